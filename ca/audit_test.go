package ca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/store"
)

// TestAuditTrail checks that the ceremony, issuance and every status change
// reach the audit log with the actor, and that personal data stays out of
// the leaves.
func TestAuditTrail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kek := make([]byte, hsm.KEKSize)
	rand.Read(kek)
	keys, _ := hsm.OpenSoftware(filepath.Join(dir, "keys"), kek, nil)
	st, err := store.OpenBolt(filepath.Join(dir, "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	log, err := audit.New(st, logKey, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := Init(ctx, DefaultConfig(), keys, st, Options{Audit: log, Clock: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{svc: svc}
	cert := env.issue(t, CitizenSigning)
	officer := WithActor(ctx, "officer:rania")
	if _, err := svc.Revoke(officer, cert.SerialNumber, ReasonCertificateHold); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Release(officer, cert.SerialNumber); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Revoke(officer, cert.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	// A refused operation leaves no record.
	svc.Revoke(officer, cert.SerialNumber, ReasonKeyCompromise)

	entries, err := st.AuditEntries(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		r, err := audit.ParseRecord(e.Record)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Actor+" "+r.Action)
		if strings.Contains(string(e.Record), "9861234567") || strings.Contains(string(e.Record), "Layla") {
			t.Errorf("personal data in leaf %d: %s", e.Index, e.Record)
		}
	}
	want := "ca ca.ceremony|ca ca.issue|officer:rania ca.hold|officer:rania ca.release|officer:rania ca.revoke"
	if strings.Join(got, "|") != want {
		t.Errorf("audit trail = %s\nwant          %s", strings.Join(got, "|"), want)
	}
}
