package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/thiqa/thiqa/store"
)

// SigningStore is what the signing contract covers.
type SigningStore interface {
	SigningView(ctx context.Context, fn func(store.SigningTx) error) error
	SigningUpdate(ctx context.Context, fn func(store.SigningTx) error) error
}

// RunSigning runs the signing records' contract against fresh, empty
// stores made by open.
func RunSigning(t *testing.T, open func(t *testing.T) SigningStore) {
	ctx := context.Background()
	now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	runOutbox(t, open, now)
	t.Run("Empty", func(t *testing.T) {
		s := open(t)
		err := s.SigningView(ctx, func(tx store.SigningTx) error {
			if _, err := tx.SignRequest("nope"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("SignRequest = %v, want ErrNotFound", err)
			}
			if _, err := tx.Agency("nope"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Agency = %v, want ErrNotFound", err)
			}
			if _, err := tx.Blob("nope"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Blob = %v, want ErrNotFound", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Agencies", func(t *testing.T) {
		s := open(t)
		a := store.Agency{ID: "ag1", Name: "Ministry", Scopes: []string{"sign-requests"}, KeyHash: []byte{1}, Created: now}
		mustUpdate(t, s, func(tx store.SigningTx) error { return tx.InsertAgency(a) })
		for _, tc := range []struct {
			name string
			a    store.Agency
		}{{"same id", store.Agency{ID: "ag1", Name: "Other"}}, {"same name", store.Agency{ID: "ag2", Name: "Ministry"}}} {
			t.Run(tc.name, func(t *testing.T) {
				err := s.SigningUpdate(ctx, func(tx store.SigningTx) error { return tx.InsertAgency(tc.a) })
				if !errors.Is(err, store.ErrDuplicate) {
					t.Errorf("InsertAgency = %v, want ErrDuplicate", err)
				}
			})
		}
		mustView(t, s, func(tx store.SigningTx) error {
			got, err := tx.AgencyByName("Ministry")
			if err != nil || got.ID != "ag1" || !bytes.Equal(got.KeyHash, a.KeyHash) {
				t.Errorf("AgencyByName = %+v, %v", got, err)
			}
			all, err := tx.Agencies()
			if err != nil || len(all) != 1 {
				t.Errorf("Agencies = %d, %v", len(all), err)
			}
			return nil
		})
	})
	t.Run("Requests", func(t *testing.T) {
		s := open(t)
		r := store.SignRequest{ID: "r1", NationalID: "9861234567", State: store.SignPending, Created: now,
			Documents: []store.SignDocument{{Name: "a.pdf", Size: 3}}}
		var saved store.SignRequest
		mustUpdate(t, s, func(tx store.SigningTx) (err error) {
			saved, err = tx.PutSignRequest(r)
			return err
		})
		if saved.Version != 1 {
			t.Fatalf("version %d, want 1", saved.Version)
		}
		// A stale version is refused.
		err := s.SigningUpdate(ctx, func(tx store.SigningTx) error {
			_, err := tx.PutSignRequest(r)
			return err
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("stale PutSignRequest = %v, want ErrConflict", err)
		}
		saved.State = store.SignSigned
		mustUpdate(t, s, func(tx store.SigningTx) error {
			_, err := tx.PutSignRequest(saved)
			return err
		})
		r2 := store.SignRequest{ID: "r2", NationalID: "9861234567", Created: now.Add(time.Second)}
		other := store.SignRequest{ID: "r3", NationalID: "9869999999", Created: now}
		mustUpdate(t, s, func(tx store.SigningTx) error {
			if _, err := tx.PutSignRequest(r2); err != nil {
				return err
			}
			_, err := tx.PutSignRequest(other)
			return err
		})
		mustView(t, s, func(tx store.SigningTx) error {
			list, err := tx.SignRequestsOf("9861234567")
			if err != nil || len(list) != 2 || list[0].ID != "r1" || list[0].State != store.SignSigned || list[1].ID != "r2" {
				t.Errorf("SignRequestsOf = %+v, %v", list, err)
			}
			return nil
		})
	})
	t.Run("IdempotencyBlobsEvidence", func(t *testing.T) {
		s := open(t)
		mustUpdate(t, s, func(tx store.SigningTx) error {
			if err := tx.PutIdempotency("ag1", "k", "r1"); err != nil {
				return err
			}
			if err := tx.PutBlob("r1/0/in", []byte("%PDF-1.7")); err != nil {
				return err
			}
			return tx.PutEvidence(store.SignEvidence{ID: "e1", RequestID: "r1", At: now})
		})
		err := s.SigningUpdate(ctx, func(tx store.SigningTx) error { return tx.PutIdempotency("ag1", "k", "r2") })
		if !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("second PutIdempotency = %v, want ErrDuplicate", err)
		}
		mustView(t, s, func(tx store.SigningTx) error {
			if id, err := tx.Idempotency("ag1", "k"); err != nil || id != "r1" {
				t.Errorf("Idempotency = %q, %v", id, err)
			}
			if _, err := tx.Idempotency("ag2", "k"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Idempotency of another owner = %v", err)
			}
			if keys, err := tx.BlobKeys("r1/", 10); err != nil || len(keys) != 1 || keys[0] != "r1/0/in" {
				t.Errorf("BlobKeys = %v, %v", keys, err)
			}
			if b, err := tx.Blob("r1/0/in"); err != nil || string(b) != "%PDF-1.7" {
				t.Errorf("Blob = %q, %v", b, err)
			}
			if ev, err := tx.EvidenceOf("r1"); err != nil || len(ev) != 1 {
				t.Errorf("EvidenceOf = %v, %v", ev, err)
			}
			return nil
		})
	})
}

func mustUpdate(t *testing.T, s SigningStore, fn func(store.SigningTx) error) {
	t.Helper()
	if err := s.SigningUpdate(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func mustView(t *testing.T, s SigningStore, fn func(store.SigningTx) error) {
	t.Helper()
	if err := s.SigningView(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}
