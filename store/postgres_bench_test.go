package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/store"
)

// writeStore is what the write benchmarks need of either store.
type writeStore interface {
	InsertCertificate(ctx context.Context, c store.Certificate) error
	EnrollmentUpdate(ctx context.Context, fn func(store.EnrollmentTx) error) error
	SigningUpdate(ctx context.Context, fn func(store.SigningTx) error) error
}

// BenchmarkStoreWrites compares bbolt and PostgreSQL on the store's part of
// issuance (a certificate insert), sign-in (a session and its event in one
// transaction) and approval (a sign request moved from pending to signing
// by compare-and-set), each from b.RunParallel's goroutines. Only the
// store is measured: crypto and WebAuthn are the same on both.
func BenchmarkStoreWrites(b *testing.B) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	stores := []struct {
		name string
		open func(b *testing.B) writeStore
	}{
		{"bolt", func(b *testing.B) writeStore {
			s, err := store.OpenBolt(filepath.Join(b.TempDir(), "thiqa.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", func(b *testing.B) writeStore {
			s, err := store.OpenPostgres(ctx, pgtest.DSN(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := st.open(b)
			var seq atomic.Int64
			b.Run("issue", func(b *testing.B) {
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						n := seq.Add(1)
						err := s.InsertCertificate(ctx, store.Certificate{Serial: fmt.Sprintf("%032x", n), Issuer: "citizen-ca", Profile: "citizen-signing",
							Subject: "CN=Sara Nasser", NotBefore: t0, NotAfter: t0.AddDate(2, 0, 0), IssuedAt: t0, DER: make([]byte, 900)})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			b.Run("signin", func(b *testing.B) {
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						n := seq.Add(1)
						err := s.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
							if err := tx.PutSession(store.Session{Hash: []byte(fmt.Sprintf("session-%d", n)), Kind: store.SessionCitizen,
								Subject: "gen-1", Created: t0, Expires: t0.Add(time.Hour)}); err != nil {
								return err
							}
							return tx.AppendEvent(store.Event{At: t0, Actor: "citizen:9861234567", Action: "sign-in", Subject: fmt.Sprintf("identity:%d", n%1000)})
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			b.Run("approval", func(b *testing.B) {
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						id := fmt.Sprintf("req-%d", seq.Add(1))
						err := s.SigningUpdate(ctx, func(tx store.SigningTx) error {
							_, err := tx.PutSignRequest(store.SignRequest{ID: id, NationalID: "9861234567", State: store.SignPending, Created: t0})
							return err
						})
						if err == nil {
							err = s.SigningUpdate(ctx, func(tx store.SigningTx) error {
								r, err := tx.SignRequest(id)
								if err != nil {
									return err
								}
								r.State = store.SignSigning
								_, err = tx.PutSignRequest(r)
								return err
							})
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}
