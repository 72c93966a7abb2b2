package enrollment

import (
	"net/url"
	"testing"

	"github.com/thiqa/thiqa/store"
)

// TestAdminFourEyes: an administrator asks for another administrator
// account; it exists only once a second administrator approves, with a
// first password and TOTP secret that sign in; the requester cannot
// approve; refusals change nothing; revocation approvals ignore these.
func TestAdminFourEyes(t *testing.T) {
	e := newEnv(t)
	e.centre(t, "AMM-01")
	rana := e.officer(t, "rana", store.RoleAdmin, "AMM-01")
	omar := e.officer(t, "omar", store.RoleAdmin, "AMM-01")
	sup := e.officer(t, "sami", store.RoleSupervisor, "AMM-01")

	before := e.snapshot(t)
	_, err := e.svc.RequestAdmin(ctx, sup, "boss", "", "needed")
	wantErr(t, err, ErrForbidden)
	_, err = e.svc.RequestAdmin(ctx, rana, "Boss!", "", "needed")
	wantErr(t, err, ErrInvalid)
	_, err = e.svc.RequestAdmin(ctx, rana, "boss", "", "")
	wantErr(t, err, ErrInvalid)
	_, err = e.svc.RequestAdmin(ctx, rana, "omar", "", "needed")
	wantErr(t, err, ErrExists)
	_, err = e.svc.RequestAdmin(ctx, rana, "boss", "NOPE", "needed")
	wantErr(t, err, ErrNotFound)
	if e.snapshot(t) != before {
		t.Fatal("a refused request changed the records")
	}

	a, err := e.svc.RequestAdmin(ctx, rana, "boss", "amm-01", "second administrator for the night shift")
	if err != nil || a.Status != "pending" || a.Action != ActionCreateAdmin || a.Centre != "AMM-01" {
		t.Fatalf("request: %+v %v", a, err)
	}
	list, err := e.svc.AdminRequests(ctx, omar)
	if err != nil || len(list) != 1 || list[0].ID != a.ID {
		t.Fatalf("pending: %v %v", list, err)
	}
	_, err = e.svc.AdminRequests(ctx, sup)
	wantErr(t, err, ErrForbidden)
	// Not a revocation: supervisors do not see it, Approve does not take it.
	if pend, err := e.svc.PendingApprovals(ctx, omar); err != nil || len(pend) != 0 {
		t.Fatalf("revocation approvals list it: %v %v", pend, err)
	}
	_, err = e.svc.Approve(ctx, omar, a.ID, true)
	wantErr(t, err, ErrNotFound)

	_, err = e.svc.DecideAdmin(ctx, rana, a.ID, true)
	wantErr(t, err, ErrForbidden)
	_, err = e.svc.DecideAdmin(ctx, sup, a.ID, true)
	wantErr(t, err, ErrForbidden)
	_, err = e.svc.DecideAdmin(ctx, omar, "nope", true)
	wantErr(t, err, ErrNotFound)
	if _, _, err := e.svc.OfficerSignIn(ctx, "boss", "x", "000000"); err == nil {
		t.Fatal("account exists before approval")
	}

	got, err := e.svc.DecideAdmin(ctx, omar, a.ID, true)
	if err != nil || got.Approval.Status != "approved" || got.Approval.DecidedBy != "officer:omar" || got.Officer.Role != store.RoleAdmin || len(got.Password) < 12 {
		t.Fatalf("approve: %+v %v", got, err)
	}
	u, err := url.Parse(got.Officer.TOTPURL)
	if err != nil {
		t.Fatal(err)
	}
	e.totp["boss"] = u.Query().Get("secret")
	_, p, err := e.svc.OfficerSignIn(ctx, "boss", got.Password, e.code(t, "boss"))
	if err != nil || p.Role != store.RoleAdmin {
		t.Fatalf("new administrator signs in: %+v %v", p, err)
	}
	_, err = e.svc.DecideAdmin(ctx, omar, a.ID, false)
	wantErr(t, err, ErrState)

	// A rejected request creates nothing.
	b, _ := e.svc.RequestAdmin(ctx, rana, "other", "", "why not")
	if got, err := e.svc.DecideAdmin(ctx, omar, b.ID, false); err != nil || got.Approval.Status != "rejected" || got.Password != "" {
		t.Fatalf("reject: %+v %v", got, err)
	}
	if _, _, err := e.svc.OfficerSignIn(ctx, "other", "x", "000000"); err == nil {
		t.Fatal("rejected account exists")
	}
}
