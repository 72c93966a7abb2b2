package enrollment

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
)

// TestAuditLogCopy checks that registration events reach the Merkle audit
// log once committed, named by internal IDs, with no national number in any
// leaf, and that an event of a refused operation does not.
func TestAuditLogCopy(t *testing.T) {
	e := newEnv(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	clock := func() time.Time { return *e.now }
	log, err := audit.New(e.st, key, audit.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if e.svc, err = New(e.st, e.keys, e.ca, Options{Clock: clock, Argon2: fastArgon, Audit: log}); err != nil {
		t.Fatal(err)
	}
	const nid = "9861234567"
	off, p, _ := e.enrolled(t, nid)
	if _, _, err := e.signIn(t, p); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Enrol(ctx, off, layla("123")); err == nil {
		t.Fatal("enrolment with a bad national number succeeded")
	}
	id := e.identity(t, nid).ID
	entries, err := e.st.AuditEntries(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range entries {
		if strings.Contains(string(en.Record), nid) {
			t.Errorf("national number in audit leaf %d: %s", en.Index, en.Record)
		}
		r, err := audit.ParseRecord(en.Record)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Actor+" "+r.Action+" "+r.Subject)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"enrollment.centre-create centre:AMM-01",
		"enrollment.officer-create officer:omar",
		"officer:omar enrollment.signin officer:omar",
		"officer:omar enrollment.enrol identity:" + id,
		"citizen:" + id + " enrollment.activate identity:" + id,
		"citizen:" + id + " enrollment.signin identity:" + id,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("audit log lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "identity:unknown") {
		t.Errorf("refused enrolment reached the audit log:\n%s", all)
	}
	if _, err := log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(ctx, e.st, log.Verifier()); err != nil {
		t.Errorf("audit log does not verify: %v", err)
	}
}
