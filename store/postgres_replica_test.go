package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/store"
)

// TestPostgresTwoReplicasRace races approvals from two stores ("replicas")
// on one database: each reads a pending record and moves it on, the way
// the services approve a sign request or a four-eyes request. Exactly one
// approval wins each race.
func TestPostgresTwoReplicasRace(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	var replicas [2]*store.Postgres
	for i := range replicas {
		s, err := store.OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		replicas[i] = s
	}
	created := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name    string
		setup   func(s *store.Postgres) error
		approve func(s *store.Postgres) (bool, error)
	}{
		{
			name: "sign request",
			setup: func(s *store.Postgres) error {
				return s.SigningUpdate(ctx, func(tx store.SigningTx) error {
					_, err := tx.PutSignRequest(store.SignRequest{ID: "r1", NationalID: "9861234567", State: store.SignPending, Created: created})
					return err
				})
			},
			approve: func(s *store.Postgres) (won bool, err error) {
				err = s.SigningUpdate(ctx, func(tx store.SigningTx) error {
					won = false
					r, err := tx.SignRequest("r1")
					if err != nil || r.State != store.SignPending {
						return err
					}
					r.State = store.SignSigning
					_, err = tx.PutSignRequest(r)
					won = err == nil
					return err
				})
				return won, err
			},
		},
		{
			name: "four-eyes approval",
			setup: func(s *store.Postgres) error {
				return s.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
					return tx.PutApproval(store.Approval{ID: "a1", Status: "pending"})
				})
			},
			approve: func(s *store.Postgres) (won bool, err error) {
				err = s.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
					won = false
					a, err := tx.Approval("a1")
					if err != nil || a.Status != "pending" {
						return err
					}
					a.Status = "approved"
					won = true
					return tx.PutApproval(a)
				})
				return won, err
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.setup(replicas[0]); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := 0
			var errs []error
			for i := range 8 {
				wg.Go(func() {
					won, err := tc.approve(replicas[i%2])
					mu.Lock()
					defer mu.Unlock()
					if err != nil && !errors.Is(err, store.ErrConflict) {
						errs = append(errs, fmt.Errorf("approver %d: %w", i, err))
					}
					if won && err == nil {
						wins++
					}
				})
			}
			wg.Wait()
			if len(errs) > 0 {
				t.Fatal(errors.Join(errs...))
			}
			if wins != 1 {
				t.Fatalf("%d approvals won, want exactly 1", wins)
			}
		})
	}
}
