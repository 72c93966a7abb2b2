package signing_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// TestAgencyAddedByFourEyesAudited: an agency registered by a second
// administrator's approval is an audit record naming the approver, the
// requester, the reason and the scopes; a rejected request records none.
func TestAgencyAddedByFourEyesAudited(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := &auditLog{}
	s, err := signing.New(st, noApprover{}, noTrust{}, signing.Options{Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin := func(name string) enrollment.Principal {
		return enrollment.Principal{Kind: enrollment.KindOfficer, Username: name, Role: store.RoleAdmin}
	}
	n := signing.NewAgency{Name: "Ministry of Health", Scopes: []string{signing.ScopeSignRequests, signing.ScopeVerify}}
	rejected, err := s.RequestAgency(ctx, admin("rana"), n, "a typo in the name")
	if err != nil {
		t.Fatal(err)
	}
	if _, k, err := s.DecideAgency(ctx, admin("omar"), rejected.ID, false); err != nil || k != nil {
		t.Fatalf("reject: %v %v", k, err)
	}
	if len(log.events) != 0 {
		t.Fatalf("a rejected request was audited as an addition: %+v", log.events)
	}
	req, err := s.RequestAgency(ctx, admin("rana"), n, "prescriptions signed by patients")
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := s.DecideAgency(ctx, admin("omar"), req.ID, true)
	if err != nil || key == nil {
		t.Fatalf("approve: %v", err)
	}
	if len(log.events) != 1 {
		t.Fatalf("%d audit records for one approved agency", len(log.events))
	}
	e := log.events[0]
	d, _ := e.Details.(map[string]any)
	if e.Actor != "officer:omar" || e.Action != "agency.added" || e.Subject != "agency:"+key.Agency.ID ||
		d["requested_by"] != "officer:rana" || d["why"] != "prescriptions signed by patients" || fmt.Sprint(d["scopes"]) != "[sign-requests verify]" {
		t.Fatalf("approved agency audited as %+v", e)
	}
	if s := fmtDetails(e.Details); key.Key == "" || strings.Contains(s, key.Key) || (key.WebhookSecret != "" && strings.Contains(s, key.WebhookSecret)) {
		t.Fatalf("a secret of the agency is in the audit log: %s", s)
	}
}
