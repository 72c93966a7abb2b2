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
	"github.com/thiqa/thiqa/store/storetest"
)

// BenchmarkRateLimitHit measures the counter that every activation and
// sign-in attempt goes through, from 8 goroutines per CPU: "spread" over
// many addresses, "hot" on one (a carrier's shared address).
func BenchmarkRateLimitHit(b *testing.B) {
	ctx := context.Background()
	now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	for _, st := range []struct {
		name string
		open func(b *testing.B) storetest.RateLimitStore
	}{
		{"bolt", func(b *testing.B) storetest.RateLimitStore {
			s, err := store.OpenBolt(filepath.Join(b.TempDir(), "thiqa.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", func(b *testing.B) storetest.RateLimitStore {
			s, err := store.OpenPostgres(ctx, pgtest.DSN(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
	} {
		b.Run(st.name, func(b *testing.B) {
			s := st.open(b)
			for _, hot := range []bool{false, true} {
				name := map[bool]string{false: "spread", true: "hot"}[hot]
				b.Run(name, func(b *testing.B) {
					var seq atomic.Int64
					b.SetParallelism(8)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							key := "signin/ip:198.51.100.1"
							if !hot {
								key = fmt.Sprintf("signin/ip:10.%d", seq.Add(1)%50000)
							}
							if _, _, err := s.Hit(ctx, key, now, time.Minute); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		})
	}
}
