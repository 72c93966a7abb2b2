package signing_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// TestAgenciesHidesSecrets lists agencies for the admin pages: every one
// is there, without its key hash and webhook secret, and the keys still
// work.
func TestAgenciesHidesSecrets(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := signing.New(st, noApprover{}, noTrust{}, signing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys := map[string]string{}
	for _, name := range []string{"Land Department", "Civil Status"} {
		k, err := s.AddAgency(ctx, signing.NewAgency{Name: name, Scopes: []string{signing.ScopeVerify}, WebhookURL: "https://example.test/hook"})
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = k.Key
	}
	list, err := s.Agencies(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("agencies: %v %v", list, err)
	}
	for _, a := range list {
		if keys[a.Name] == "" || a.KeyHash != nil || a.WebhookSecret != nil || a.ID == "" {
			t.Errorf("listed %+v", a)
		}
		if got, err := s.AuthenticateAgency(ctx, keys[a.Name]); err != nil || got.ID != a.ID {
			t.Errorf("key of %s: %v", a.Name, err)
		}
	}
}

// TestAgencyFourEyes: an administrator asks for an agency, nothing is
// registered until a second administrator approves, the requester cannot
// approve, and a decided request stays decided.
func TestAgencyFourEyes(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := signing.New(st, noApprover{}, noTrust{}, signing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin := func(name string) enrollment.Principal {
		return enrollment.Principal{Kind: enrollment.KindOfficer, Username: name, Role: store.RoleAdmin}
	}
	officer := enrollment.Principal{Kind: enrollment.KindOfficer, Username: "layla", Role: store.RoleOfficer}
	n := signing.NewAgency{Name: "Land Department", Scopes: []string{signing.ScopeSignRequests}}

	if _, err := s.RequestAgency(ctx, officer, n, "new partner"); !errors.Is(err, signing.ErrForbidden) {
		t.Fatalf("officer asks: %v", err)
	}
	if _, err := s.RequestAgency(ctx, admin("rana"), signing.NewAgency{Name: "x", Scopes: []string{"everything"}}, "why"); !errors.Is(err, signing.ErrInvalid) {
		t.Fatalf("bad scope: %v", err)
	}
	if _, err := s.RequestAgency(ctx, admin("rana"), n, ""); !errors.Is(err, signing.ErrInvalid) {
		t.Fatalf("no reason: %v", err)
	}
	req, err := s.RequestAgency(ctx, admin("rana"), n, "new partner")
	if err != nil || req.Status != signing.AgencyPending {
		t.Fatalf("request: %+v %v", req, err)
	}
	if list, _ := s.Agencies(ctx); len(list) != 0 {
		t.Fatalf("registered before approval: %v", list)
	}
	pending, err := s.AgencyRequests(ctx, admin("omar"))
	if err != nil || len(pending) != 1 || pending[0].ID != req.ID {
		t.Fatalf("pending: %v %v", pending, err)
	}
	if _, err := s.AgencyRequests(ctx, officer); !errors.Is(err, signing.ErrForbidden) {
		t.Fatalf("officer lists: %v", err)
	}
	if _, _, err := s.DecideAgency(ctx, admin("rana"), req.ID, true); !errors.Is(err, signing.ErrForbidden) {
		t.Fatalf("requester approves: %v", err)
	}
	if _, _, err := s.DecideAgency(ctx, admin("omar"), "nope", true); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("unknown request: %v", err)
	}
	got, key, err := s.DecideAgency(ctx, admin("omar"), req.ID, true)
	if err != nil || key == nil || got.Status != signing.AgencyApproved || got.AgencyID != key.Agency.ID || got.DecidedBy != "officer:omar" {
		t.Fatalf("approve: %+v %v %v", got, key, err)
	}
	if a, err := s.AuthenticateAgency(ctx, key.Key); err != nil || a.Name != n.Name {
		t.Fatalf("issued key: %v", err)
	}
	if _, _, err := s.DecideAgency(ctx, admin("sami"), req.ID, false); !errors.Is(err, signing.ErrState) {
		t.Fatalf("decided twice: %v", err)
	}
	if pending, _ := s.AgencyRequests(ctx, admin("omar")); len(pending) != 0 {
		t.Fatalf("still pending: %v", pending)
	}
	if _, err := s.RequestAgency(ctx, admin("rana"), n, "again"); !errors.Is(err, signing.ErrExists) {
		t.Fatalf("existing name: %v", err)
	}
	// A rejected request registers nothing.
	req2, _ := s.RequestAgency(ctx, admin("rana"), signing.NewAgency{Name: "Civil Status", Scopes: []string{signing.ScopeVerify}}, "why")
	if got, key, err := s.DecideAgency(ctx, admin("omar"), req2.ID, false); err != nil || key != nil || got.Status != signing.AgencyRejected {
		t.Fatalf("reject: %+v %v %v", got, key, err)
	}
	if list, _ := s.Agencies(ctx); len(list) != 1 {
		t.Fatalf("agencies after reject: %v", list)
	}
}
