package enrollment

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/store"
)

type crashAuditor struct{}

var errKilled = errors.New("killed between commit and audit append")

func (crashAuditor) Append(context.Context, audit.Event) (audit.Receipt, error) {
	return audit.Receipt{}, errKilled
}

// TestCatchUpAudit: an enrolment committed by a process that died before
// its audit append is copied into the log by a catch-up, pseudonymised as
// the original copy would have been, once; the periodic catch-up leaves
// alone events younger than its grace.
func TestCatchUpAudit(t *testing.T) {
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
	off, _, _ := e.enrolled(t, "9861234567")
	crashed, err := New(e.st, e.keys, e.ca, Options{Clock: clock, Argon2: fastArgon, Audit: crashAuditor{}})
	if err != nil {
		t.Fatal(err)
	}
	const nid = "9861234568"
	if _, err := crashed.Enrol(ctx, off, layla(nid)); !errors.Is(err, errKilled) {
		t.Fatalf("enrol = %v, want the crash", err)
	}
	id := e.identity(t, nid).ID // committed all the same

	enrolRecords := func() int {
		t.Helper()
		es, err := e.st.AuditEntries(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, en := range es {
			if strings.Contains(string(en.Record), nid) {
				t.Errorf("national number in audit leaf %d: %s", en.Index, en.Record)
			}
			r, err := audit.ParseRecord(en.Record)
			if err != nil {
				t.Fatal(err)
			}
			if r.Action == "enrollment.enrol" && r.Subject == "identity:"+id {
				if r.Actor != "officer:omar" || !strings.HasPrefix(r.Source, eventSourcePrefix) {
					t.Errorf("catch-up record %+v", r)
				}
				n++
			}
		}
		return n
	}
	if n := enrolRecords(); n != 0 {
		t.Fatalf("%d records before the catch-up", n)
	}
	if added, err := e.svc.CatchUpAudit(ctx, time.Minute); err != nil || added != 0 {
		t.Fatalf("catch-up within the grace appended %d, %v", added, err)
	}
	e.advance(2 * time.Minute)
	if added, err := e.svc.CatchUpAudit(ctx, time.Minute); err != nil || added != 1 {
		t.Fatalf("catch-up appended %d, %v; want the enrolment's record", added, err)
	}
	if added, err := e.svc.CatchUpAudit(ctx, 0); err != nil || added != 0 {
		t.Fatalf("second catch-up appended %d, %v", added, err)
	}
	if n := enrolRecords(); n != 1 {
		t.Fatalf("%d records of the enrolment, want 1", n)
	}
	if _, err := log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(ctx, e.st, log.Verifier()); err != nil {
		t.Fatal(err)
	}
	if p, err := e.st.PendingAuditEvents(ctx, e.now.Add(time.Hour), 1000); err != nil || len(p) != 0 {
		t.Errorf("%d events still pending audit (%v)", len(p), err)
	}
}

// TestCatchUpAuditPassesOverBadEvents: an event pending audit whose copy
// the log refuses as malformed (refused when it was recorded too) does not
// stop the catch-up, which forgets it and copies the others.
func TestCatchUpAuditPassesOverBadEvents(t *testing.T) {
	e := newEnv(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	log, err := audit.New(e.st, key, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e.svc, err = New(e.st, e.keys, e.ca, Options{Argon2: fastArgon, Audit: log}); err != nil {
		t.Fatal(err)
	}
	err = e.st.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
		for _, ev := range []store.Event{
			{At: testNow, Actor: "system\x00", Action: "test", Subject: "centre:X", AuditID: newAuditID()},
			{At: testNow, Actor: "system", Action: "test", Subject: "centre:Y", AuditID: newAuditID()},
		} {
			if err := tx.AppendEvent(ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if added, err := e.svc.CatchUpAudit(ctx, 0); err != nil || added != 1 {
		t.Fatalf("catch-up appended %d, %v; want 1", added, err)
	}
	if p, err := e.st.PendingAuditEvents(ctx, time.Now().Add(time.Hour), 10); err != nil || len(p) != 0 {
		t.Fatalf("%d events still pending (%v)", len(p), err)
	}
}
