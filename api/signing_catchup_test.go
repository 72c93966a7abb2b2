package api

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// dyingAuditor stands for a process killed between the signatures' commit
// and their audit appends.
type dyingAuditor struct{}

func (dyingAuditor) Append(context.Context, audit.Event) (audit.Receipt, error) {
	return audit.Receipt{}, errors.New("killed before the audit append")
}

// TestSigningAuditCatchUp: signatures stored by a process that died before
// their audit appends get their records from the signing catch-up, once
// each, naming the citizen by identity ID, and the log verifies.
func TestSigningAuditCatchUp(t *testing.T) {
	ctx := context.Background()
	e := newSignEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	ph, tok := e.citizen(t, off, "9861234567")
	ag := e.agency(t, "Ministry of Justice", signing.ScopeSignRequests)

	// The API now runs on a signing service whose audit appends die.
	clock := func() time.Time { return *e.now }
	dying, err := signing.New(e.st, countingApprover{e.svc, e.signs}, signing.CATrust(e.ca), signing.Options{Clock: clock, Audit: dyingAuditor{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dying.Wait)
	e.srv = New(Deps{Enrollment: e.svc, Signing: dying, CSC: dying,
		Verifier: &validate.Validator{Options: validate.Options{TrustAnchors: []*x509.Certificate{e.root}, Clock: clock}}}, Options{Clock: clock})

	var req signing.RequestView
	body := signing.NewRequest{NationalID: "9861234567", PurposeAr: "توقيع عقد", PurposeEn: "Sign a contract", Documents: threeDocuments(t)[:2]}
	if rec := e.call(t, "POST", "/api/v1/sign-requests", ag.Key, body, &req); rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if code, reply := e.approve(t, ph, tok, req.ID); code == 200 {
		t.Fatalf("approval with a dying audit log reported done: %s", reply)
	}
	if n := e.signedCount(t, req.ID, 2); n != 4 {
		t.Fatalf("%d signed documents and evidence stored, want 4 (the commit came before the crash)", n)
	}
	signatures := func() int {
		t.Helper()
		es, err := e.st.AuditEntries(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, en := range es {
			r, err := audit.ParseRecord(en.Record)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(en.Record), "9861234567") {
				t.Errorf("national number in audit leaf: %s", en.Record)
			}
			if r.Action == "signing.sign" && strings.HasPrefix(r.Subject, "sign-request:"+req.ID+"/") {
				if r.Actor == "citizen:unknown" || !strings.HasPrefix(r.Source, "signing.evidence:"+req.ID+"/") {
					t.Errorf("catch-up record %+v", r)
				}
				n++
			}
		}
		return n
	}
	if n := signatures(); n != 0 {
		t.Fatalf("%d signature records before the catch-up", n)
	}
	for i, want := range []int{2, 0} {
		if added, err := e.signing.CatchUpAudit(ctx, 0); err != nil || added != want {
			t.Fatalf("catch-up %d appended %d (%v), want %d", i, added, err, want)
		}
	}
	if n := signatures(); n != 2 {
		t.Fatalf("%d signature records, want 2", n)
	}
	if _, err := e.audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(ctx, e.st, e.audit.Verifier()); err != nil {
		t.Fatal(err)
	}
}
