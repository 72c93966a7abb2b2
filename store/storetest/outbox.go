package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/thiqa/thiqa/store"
)

// runOutbox covers the webhook outbox and the index of requests in state
// signing.
func runOutbox(t *testing.T, open func(t *testing.T) SigningStore, now time.Time) {
	t.Run("WebhookOutbox", func(t *testing.T) {
		s := open(t)
		mk := func(id string, next time.Time) store.WebhookDelivery {
			return store.WebhookDelivery{ID: id, Agency: "ag", RequestID: "req-" + id[:1], Event: "sign-request.signed",
				Body: []byte(`{"x":1}`), Created: now, State: store.WebhookPending, NextAttempt: next}
		}
		var b store.WebhookDelivery
		mustUpdate(t, s, func(tx store.SigningTx) error {
			for _, d := range []store.WebhookDelivery{mk("a1", now.Add(time.Minute)), mk("b1", now), mk("a2", now.Add(-time.Minute))} {
				saved, err := tx.PutWebhook(d)
				if err != nil || saved.Version != 1 {
					t.Fatalf("PutWebhook(%s) = v%d, %v", d.ID, saved.Version, err)
				}
				if d.ID == "b1" {
					b = saved
				}
			}
			if _, err := tx.PutWebhook(mk("a1", now)); !errors.Is(err, store.ErrConflict) {
				t.Errorf("PutWebhook of an existing id as new = %v, want ErrConflict", err)
			}
			return nil
		})
		due := func(at time.Time) string {
			var ids string
			mustView(t, s, func(tx store.SigningTx) error {
				ds, err := tx.DueWebhooks(at, 10)
				for _, d := range ds {
					ids += d.ID + " "
				}
				return err
			})
			return ids
		}
		if got := due(now); got != "a2 b1 " {
			t.Fatalf("DueWebhooks(now) = %q, want earliest first \"a2 b1 \"", got)
		}
		// A lease hides a delivery until it ends; a stale version loses.
		b.LeaseOwner, b.LeaseUntil = "w1", now.Add(30*time.Second)
		mustUpdate(t, s, func(tx store.SigningTx) error {
			var err error
			if b, err = tx.PutWebhook(b); err != nil {
				t.Fatalf("claim: %v", err)
			}
			stale := b
			stale.Version = 1
			if _, err := tx.PutWebhook(stale); !errors.Is(err, store.ErrConflict) {
				t.Errorf("PutWebhook with a stale version = %v, want ErrConflict", err)
			}
			return nil
		})
		if got := due(now); got != "a2 " {
			t.Fatalf("DueWebhooks during a lease = %q, want \"a2 \"", got)
		}
		if got := due(now.Add(time.Minute)); got != "a2 b1 a1 " {
			t.Fatalf("DueWebhooks after the lease = %q", got)
		}
		// A delivered one is never due again, and stays listed.
		b.State, b.Done = store.WebhookDelivered, now
		mustUpdate(t, s, func(tx store.SigningTx) error {
			_, err := tx.PutWebhook(b)
			return err
		})
		if got := due(now.Add(time.Hour)); got != "a2 a1 " {
			t.Fatalf("DueWebhooks after delivery = %q", got)
		}
		mustView(t, s, func(tx store.SigningTx) error {
			ds, err := tx.WebhooksOf("req-a")
			if err != nil || len(ds) != 2 || ds[0].ID != "a1" || ds[1].ID != "a2" {
				t.Errorf("WebhooksOf = %v, %v", ds, err)
			}
			d, err := tx.Webhook("b1")
			if err != nil || d.State != store.WebhookDelivered || string(d.Body) != `{"x":1}` || d.Version != 3 {
				t.Errorf("Webhook(b1) = %+v, %v", d, err)
			}
			if _, err := tx.Webhook("zz"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Webhook(missing) = %v", err)
			}
			return nil
		})
	})
	t.Run("SigningIndex", func(t *testing.T) {
		s := open(t)
		r := store.SignRequest{ID: "r1", NationalID: "9871000001", State: store.SignPending, Created: now, Expires: now.Add(time.Hour)}
		r2 := r
		r2.ID = "r2"
		inState := func() string {
			var ids string
			mustView(t, s, func(tx store.SigningTx) error {
				rs, err := tx.SignRequestsInState(store.SignSigning, 10)
				for _, r := range rs {
					ids += r.ID + " "
				}
				return err
			})
			return ids
		}
		mustUpdate(t, s, func(tx store.SigningTx) error {
			var err error
			if r, err = tx.PutSignRequest(r); err != nil {
				return err
			}
			r2.State = store.SignSigning
			r2, err = tx.PutSignRequest(r2)
			return err
		})
		if got := inState(); got != "r2 " {
			t.Fatalf("in state signing = %q, want \"r2 \"", got)
		}
		mustUpdate(t, s, func(tx store.SigningTx) error {
			r.State, r2.State = store.SignSigning, store.SignSigned
			if _, err := tx.PutSignRequest(r); err != nil {
				return err
			}
			_, err := tx.PutSignRequest(r2)
			return err
		})
		if got := inState(); got != "r1 " {
			t.Fatalf("in state signing = %q, want \"r1 \"", got)
		}
		mustView(t, s, func(tx store.SigningTx) error {
			if _, err := tx.SignRequestsInState(store.SignPending, 10); err == nil {
				t.Error("SignRequestsInState(pending) did not fail")
			}
			return nil
		})
	})
}
