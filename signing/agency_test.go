package signing_test

import (
	"context"
	"path/filepath"
	"testing"

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
