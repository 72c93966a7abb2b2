package node

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/store"
)

// BenchmarkRotateSoftwareKEK measures a whole software KEK rotation of a
// node holding b.N identities with two wrapped keys each (the store's
// part dominates: a page read and a page write per 500 identities).
//
//	go test ./internal/node -run '^$' -bench RotateSoftwareKEK -benchtime 20000x
func BenchmarkRotateSoftwareKEK(b *testing.B) {
	ctx := context.Background()
	for _, kind := range []string{"bolt", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			opts := Options{Dir: filepath.Join(b.TempDir(), "data"), Create: true, CA: ca.DefaultConfig()}
			if kind == "postgres" {
				opts.Store = pgtest.DSN(b)
			}
			n, _, err := Open(ctx, opts)
			if err != nil {
				b.Fatal(err)
			}
			for start := 0; start < b.N; start += 1000 {
				err := n.Store.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
					for i := start; i < min(start+1000, b.N); i++ {
						id := fmt.Sprintf("gen-%d", i)
						sk, _, err := n.Wrapped.NewWrappedKey(ctx, "identity:"+id, hsm.ECDSAP256)
						if err != nil {
							return err
						}
						if _, err := tx.PutIdentity(store.Identity{NationalID: fmt.Sprintf("%010d", i), ID: id, State: store.IdentityActive,
							SigningKey: sk, AuthKey: sk, CreatedAt: time.Now()}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			n.Close()
			opts.Create = false
			b.ResetTimer()
			rep, err := RotateKEK(ctx, opts, RotateOptions{Operator: "bench"})
			if err != nil || rep.Rewrap.KeysMoved != 2*b.N {
				b.Fatalf("%+v, %v", rep.Rewrap, err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "identities/s")
		})
	}
}
