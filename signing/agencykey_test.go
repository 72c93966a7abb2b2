package signing_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// auditLog keeps the events appended to it.
type auditLog struct {
	mu     sync.Mutex
	events []audit.Event
}

func (l *auditLog) Append(_ context.Context, e audit.Event) (audit.Receipt, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	return audit.Receipt{}, nil
}

// TestRotateAndDisableAgency: a rotated key replaces the old one at once
// (the old is refused, the new works, the agency's ID, webhook secret and
// certificate stay); a disabled agency authenticates neither by key nor by
// certificate until enabled; each change is audited without the key; an
// unknown agency or a missing actor is refused and changes nothing.
func TestRotateAndDisableAgency(t *testing.T) {
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
	cert := []byte("the agency's e-seal certificate, DER")
	old, err := s.AddAgency(ctx, signing.NewAgency{Name: "Land Department", Scopes: []string{signing.ScopeSignRequests}, CertDER: cert})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.AddAgency(ctx, signing.NewAgency{Name: "Civil Status", Scopes: []string{signing.ScopeVerify}})
	if err != nil {
		t.Fatal(err)
	}
	auth := func(key string) error { _, err := s.AuthenticateAgency(ctx, key); return err }

	// Refused: nothing changes.
	if _, err := s.RotateAgencyKey(ctx, "No Such Agency", "operator:test"); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("rotate an unknown agency: %v", err)
	}
	if _, err := s.RotateAgencyKey(ctx, old.Agency.ID, " "); !errors.Is(err, signing.ErrInvalid) {
		t.Fatalf("rotate without an actor: %v", err)
	}
	if _, err := s.SetAgencyDisabled(ctx, "nope", true, "operator:test"); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("disable an unknown agency: %v", err)
	}
	if err := auth(old.Key); err != nil || len(log.events) != 0 {
		t.Fatalf("a refused change changed something: %v, %d audited", err, len(log.events))
	}

	// Rotate by name.
	k, err := s.RotateAgencyKey(ctx, "Land Department", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	if k.Key == old.Key || !strings.HasPrefix(k.Key, "thq_"+old.Agency.ID+"_") || k.Agency.ID != old.Agency.ID || k.Agency.KeyHash != nil {
		t.Fatalf("rotated %+v", k)
	}
	if err := auth(old.Key); !errors.Is(err, signing.ErrUnauthenticated) {
		t.Fatalf("the old key after rotation: %v", err)
	}
	if a, err := s.AuthenticateAgency(ctx, k.Key); err != nil || a.ID != old.Agency.ID || string(a.WebhookSecret) != old.WebhookSecret {
		t.Fatalf("the new key: %+v %v", a, err)
	}
	if _, err := s.AuthenticateAgencyCert(ctx, cert); err != nil {
		t.Fatalf("the certificate after rotation: %v", err)
	}
	if err := auth(other.Key); err != nil {
		t.Fatalf("another agency's key after rotation: %v", err)
	}

	// Disable by ID, then enable.
	if a, err := s.SetAgencyDisabled(ctx, old.Agency.ID, true, "operator:test"); err != nil || !a.Disabled {
		t.Fatalf("disable: %+v %v", a, err)
	}
	if err := auth(k.Key); !errors.Is(err, signing.ErrUnauthenticated) {
		t.Fatalf("key of a disabled agency: %v", err)
	}
	if _, err := s.AuthenticateAgencyCert(ctx, cert); !errors.Is(err, signing.ErrUnauthenticated) {
		t.Fatalf("certificate of a disabled agency: %v", err)
	}
	if err := auth(other.Key); err != nil {
		t.Fatalf("another agency while one is disabled: %v", err)
	}
	if _, err := s.SetAgencyDisabled(ctx, old.Agency.ID, false, "operator:test"); err != nil {
		t.Fatal(err)
	}
	if err := auth(k.Key); err != nil {
		t.Fatalf("key after enabling: %v", err)
	}

	var got []string
	for _, e := range log.events {
		got = append(got, e.Actor+" "+e.Action+" "+e.Subject)
		if strings.Contains(strings.ToLower(strings.Join([]string{e.Actor, e.Subject, fmtDetails(e.Details)}, " ")), strings.ToLower(k.Key)) {
			t.Errorf("the key is in the audit log: %+v", e)
		}
	}
	subject := "agency:" + old.Agency.ID
	want := []string{"operator:test agency.key-rotated " + subject, "operator:test agency.disabled " + subject, "operator:test agency.enabled " + subject}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audited:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func fmtDetails(d any) string {
	m, _ := d.(map[string]any)
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k)
		b.WriteString("=")
		if s, ok := v.(string); ok {
			b.WriteString(s)
		}
		b.WriteString(" ")
	}
	return b.String()
}
