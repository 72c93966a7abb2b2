package audit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/thiqa/thiqa/audit"
)

// BenchmarkAppend measures durable appends: serial (one fsync each) and
// from many goroutines (grouped into one transaction and one fsync).
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		f := newFixture(b)
		i := 0
		for b.Loop() {
			if _, err := f.log.Append(ctx, event(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	})
	for _, par := range []int{8, 128} {
		// par goroutines per GOMAXPROCS, each appending in a loop.
		b.Run(fmt.Sprintf("parallel-%d", par), func(b *testing.B) {
			f := newFixture(b)
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					if _, err := f.log.Append(ctx, event(i)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	fillParallel(b, f, 10000)
	if _, err := f.log.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := audit.Verify(ctx, f.st, f.log.Verifier()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*10000/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkInclusionProof(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	fillParallel(b, f, 10000)
	i := uint64(0)
	for b.Loop() {
		if _, err := f.log.InclusionProof(ctx, i%10000, 10000); err != nil {
			b.Fatal(err)
		}
		i += 7919
	}
}

func fillParallel(b *testing.B, f *fixture, n int) {
	b.Helper()
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	for i := range n {
		sem <- struct{}{}
		go func() {
			_, err := f.log.Append(context.Background(), event(i))
			errs <- err
			<-sem
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}
