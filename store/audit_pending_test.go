package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/thiqa/thiqa/store"
)

// pendingStore is what the audit catch-ups use of a store.
type pendingStore interface {
	EnrollmentUpdate(ctx context.Context, fn func(store.EnrollmentTx) error) error
	SigningUpdate(ctx context.Context, fn func(store.SigningTx) error) error
	PendingAuditEvents(ctx context.Context, before time.Time, limit int) ([]store.Event, error)
	ClearPendingAuditEvents(ctx context.Context, events []store.Event) error
	PendingAuditEvidence(ctx context.Context, before time.Time, limit int) ([]store.SignEvidence, error)
	ClearPendingAuditEvidence(ctx context.Context, evidence []store.SignEvidence) error
}

// testPendingAudit: an event with an AuditID and every signature evidence
// are kept pending audit by the transaction that writes them, listed oldest
// first up to a time, and forgotten when cleared; an event without an
// AuditID is not kept.
func testPendingAudit(t *testing.T, s pendingStore) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	err := s.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
		for i, id := range []string{"b", "a", ""} {
			e := store.Event{At: t0.Add(time.Duration(i) * time.Second), Actor: "system", Action: "test", Subject: "centre:X", AuditID: id}
			if err := tx.AppendEvent(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.SigningUpdate(ctx, func(tx store.SigningTx) error {
		for i, id := range []string{"e2", "e1"} {
			if err := tx.PutEvidence(store.SignEvidence{ID: id, RequestID: "r1", Document: i, NationalID: "9861234567", At: t0.Add(time.Duration(i) * time.Second)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.PendingAuditEvents(ctx, t0.Add(time.Second), 10)
	if err != nil || len(evs) != 1 || evs[0].AuditID != "b" {
		t.Fatalf("events pending before t0+1s = %+v, %v", evs, err)
	}
	if evs, err = s.PendingAuditEvents(ctx, t0.Add(time.Hour), 10); err != nil || len(evs) != 2 || evs[1].AuditID != "a" {
		t.Fatalf("events pending = %+v, %v", evs, err)
	}
	if err := s.ClearPendingAuditEvents(ctx, evs[:1]); err != nil {
		t.Fatal(err)
	}
	if evs, err = s.PendingAuditEvents(ctx, t0.Add(time.Hour), 10); err != nil || len(evs) != 1 || evs[0].AuditID != "a" {
		t.Fatalf("events pending after a clear = %+v, %v", evs, err)
	}
	ev, err := s.PendingAuditEvidence(ctx, t0.Add(time.Hour), 10)
	if err != nil || len(ev) != 2 || ev[0].ID != "e2" || ev[1].ID != "e1" || ev[0].NationalID != "9861234567" {
		t.Fatalf("evidence pending = %+v, %v", ev, err)
	}
	if err := s.ClearPendingAuditEvidence(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if ev, err = s.PendingAuditEvidence(ctx, t0.Add(time.Hour), 10); err != nil || len(ev) != 0 {
		t.Fatalf("evidence pending after a clear = %+v, %v", ev, err)
	}
}

func TestBoltPendingAudit(t *testing.T) {
	s, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testPendingAudit(t, s)
}

func TestPostgresPendingAudit(t *testing.T) { testPendingAudit(t, openPostgres(t)) }
