package oidc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
)

// crashOn stands for a process killed between a change's commit and the
// append of its record of action; other records reach the log.
type crashOn struct {
	action string
	next   Auditor
}

var errCrash = errors.New("killed before the audit append")

func (c crashOn) Append(ctx context.Context, ev audit.Event) (audit.Receipt, error) {
	if ev.Action == c.action {
		return audit.Receipt{}, errCrash
	}
	return c.next.Append(ctx, ev)
}

// TestSignInAuditCatchUp: a sign-in whose record never reached the log
// (the process died after storing it) gets it from the catch-up, once;
// a sign-in audited normally is not copied again; the log verifies.
func TestSignInAuditCatchUp(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	justice, js := e.register(t, "Justice")
	health, hs := e.register(t, "Health")
	setNext := func(a Auditor) {
		e.audit.mu.Lock()
		e.audit.next = a
		e.audit.mu.Unlock()
	}
	setNext(crashOn{action: "oidc-signin", next: e.log})
	e.login(t, e.party(t, justice.ID, js, "profile"), ph)
	setNext(e.log)
	e.login(t, e.party(t, health.ID, hs, "profile"), ph)
	if got := signInRecords(t, e); got != 1 {
		t.Fatalf("%d sign-in records before the catch-up, want 1", got)
	}
	if n, err := e.log.CatchUp(ctx, e.st, time.Minute); err != nil || n != 0 {
		t.Fatalf("catch-up within the grace appended %d (%v), want 0", n, err)
	}
	if n, err := e.log.CatchUp(ctx, e.st, 0); err != nil || n != 1 {
		t.Fatalf("catch-up appended %d (%v), want 1", n, err)
	}
	if n, err := e.log.CatchUp(ctx, e.st, 0); err != nil || n != 0 {
		t.Fatalf("second catch-up appended %d (%v), want 0", n, err)
	}
	if got := signInRecords(t, e); got != 2 {
		t.Fatalf("%d sign-in records after the catch-up, want 2", got)
	}
	if _, err := e.log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(ctx, e.st, e.log.Verifier()); err != nil {
		t.Fatalf("audit verify: %v", err)
	}
}

// signInRecords counts the log's sign-in records, checking that each
// names a distinct sign-in.
func signInRecords(t *testing.T, e *env) int {
	t.Helper()
	es, err := e.st.AuditEntries(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	sources := map[string]bool{}
	for _, en := range es {
		r, err := audit.ParseRecord(en.Record)
		if err != nil {
			t.Fatal(err)
		}
		if r.Action != "oidc-signin" {
			continue
		}
		n++
		if !strings.HasPrefix(r.Source, "oidc.signin:") || sources[r.Source] {
			t.Errorf("record %d: source %q missing or repeated", r.Index, r.Source)
		}
		sources[r.Source] = true
	}
	return n
}
