package signing_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/enrollment"
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
	other, err := s.AddAgency(ctx, signing.NewAgency{Name: "Civil Status", Scopes: []string{signing.ScopeVerify}, By: "operator:cli-root"})
	if err != nil {
		t.Fatal(err)
	}
	// Each addition is an audit record naming who added what the agency
	// may do, never its key or webhook secret.
	if len(log.events) != 2 {
		t.Fatalf("%d audit records for 2 agencies added", len(log.events))
	}
	for i, want := range []struct {
		actor string
		k     signing.AgencyKey
		scope string
	}{{"operator", old, signing.ScopeSignRequests}, {"operator:cli-root", other, signing.ScopeVerify}} {
		e := log.events[i]
		d, _ := e.Details.(map[string]any)
		if e.Actor != want.actor || e.Action != "agency.added" || e.Subject != "agency:"+want.k.Agency.ID || fmt.Sprint(d["scopes"]) != "["+want.scope+"]" {
			t.Errorf("agency added, audited as %+v", e)
		}
		for _, secret := range []string{want.k.Key, want.k.WebhookSecret} {
			if strings.Contains(fmtDetails(e.Details)+e.Subject, secret) {
				t.Errorf("a secret of the agency is in the audit log: %+v", e)
			}
		}
	}
	if d, _ := log.events[0].Details.(map[string]any); d["mtls_cert_sha256"] == "" {
		t.Errorf("the certificate of the agency added with one is not named: %v", d)
	}
	log.events = nil
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

// TestAgencyKeyRotationFourEyes: an administrator on the web asks for a
// new key of an agency; the old key works until a second administrator
// approves, who is shown the new key once; the requester cannot approve;
// an administrator disables and enables an agency with a reason. Officers
// can do neither.
func TestAgencyKeyRotationFourEyes(t *testing.T) {
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
	officer := enrollment.Principal{Kind: enrollment.KindOfficer, Username: "layla", Role: store.RoleOfficer}
	old, err := s.AddAgency(ctx, signing.NewAgency{Name: "Land Department", Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		t.Fatal(err)
	}
	if len(log.events) != 1 || log.events[0].Action != "agency.added" {
		t.Fatalf("agency added, audited as %+v", log.events)
	}
	log.events = nil
	auth := func(key string) error { _, err := s.AuthenticateAgency(ctx, key); return err }

	for _, tc := range []struct {
		name string
		by   enrollment.Principal
		id   string
		why  string
		err  error
	}{
		{"officer", officer, old.Agency.ID, "leaked", signing.ErrForbidden},
		{"no reason", admin("rana"), old.Agency.ID, "", signing.ErrInvalid},
		{"unknown agency", admin("rana"), "nope", "leaked", signing.ErrNotFound},
		{"by name, not ID", admin("rana"), "Land Department", "leaked", signing.ErrNotFound},
	} {
		if _, err := s.RequestAgencyKeyRotation(ctx, tc.by, tc.id, tc.why); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
	req, err := s.RequestAgencyKeyRotation(ctx, admin("rana"), old.Agency.ID, "the key was pasted in a ticket")
	if err != nil || req.Kind != signing.AgencyKindRotate || req.AgencyID != old.Agency.ID || req.Name != "Land Department" {
		t.Fatalf("request: %+v %v", req, err)
	}
	if err := auth(old.Key); err != nil {
		t.Fatalf("the old key before approval: %v", err)
	}
	if _, _, err := s.DecideAgency(ctx, admin("rana"), req.ID, true); !errors.Is(err, signing.ErrForbidden) {
		t.Fatalf("requester approves: %v", err)
	}
	got, key, err := s.DecideAgency(ctx, admin("omar"), req.ID, true)
	if err != nil || key == nil || got.Status != signing.AgencyApproved || key.Agency.ID != old.Agency.ID || key.WebhookSecret != "" || key.Agency.KeyHash != nil {
		t.Fatalf("approve: %+v %+v %v", got, key, err)
	}
	if err := auth(old.Key); !errors.Is(err, signing.ErrUnauthenticated) {
		t.Fatalf("the old key after approval: %v", err)
	}
	if err := auth(key.Key); err != nil {
		t.Fatalf("the new key: %v", err)
	}
	if list, _ := s.Agencies(ctx); len(list) != 1 {
		t.Fatalf("a rotation registered another agency: %v", list)
	}
	// A rejected rotation changes nothing.
	req2, _ := s.RequestAgencyKeyRotation(ctx, admin("rana"), old.Agency.ID, "again")
	if _, k, err := s.DecideAgency(ctx, admin("omar"), req2.ID, false); err != nil || k != nil || auth(key.Key) != nil {
		t.Fatalf("reject: %v %v", k, err)
	}

	// Disable and enable from the admin pages.
	if _, err := s.DisableAgency(ctx, officer, old.Agency.ID, true, "misuse"); !errors.Is(err, signing.ErrForbidden) {
		t.Fatalf("officer disables: %v", err)
	}
	if _, err := s.DisableAgency(ctx, admin("rana"), old.Agency.ID, true, " "); !errors.Is(err, signing.ErrInvalid) {
		t.Fatalf("disable without a reason: %v", err)
	}
	if _, err := s.DisableAgency(ctx, admin("rana"), "nope", true, "misuse"); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("disable an unknown agency: %v", err)
	}
	if err := auth(key.Key); err != nil {
		t.Fatalf("refused disables changed something: %v", err)
	}
	if a, err := s.DisableAgency(ctx, admin("rana"), old.Agency.ID, true, "misuse"); err != nil || !a.Disabled || auth(key.Key) == nil {
		t.Fatalf("disable: %+v %v", a, err)
	}
	if _, err := s.DisableAgency(ctx, admin("omar"), old.Agency.ID, false, "cleared"); err != nil || auth(key.Key) != nil {
		t.Fatalf("enable: %v", err)
	}
	var got2 []string
	for _, e := range log.events {
		got2 = append(got2, e.Actor+" "+e.Action)
	}
	if want := "officer:omar agency.key-rotated|officer:rana agency.disabled|officer:omar agency.enabled"; strings.Join(got2, "|") != want {
		t.Fatalf("audited %q, want %q", strings.Join(got2, "|"), want)
	}
	if d, _ := log.events[0].Details.(map[string]any); d["requested_by"] != "officer:rana" || d["why"] != "the key was pasted in a ticket" {
		t.Fatalf("rotation audited with %v", log.events[0].Details)
	}
}
