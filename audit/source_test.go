package audit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/store"
)

// TestSourceAppendedOnce: two logs over one store (two processes copying
// the same stored events, as a catch-up racing the original appends does)
// append the events of one source once; both callers get that record's
// receipt, events without a source batched beside a refused copy are
// appended all the same, and the log verifies.
func TestSourceAppendedOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other, err := audit.New(f.st, f.key, audit.Options{Clock: f.clk.Now, Retention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	const sourced, plain = 100, 50
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		receipts = map[string][]audit.Receipt{}
	)
	for i := range sourced {
		for _, l := range []*audit.Log{f.log, other, f.log} {
			wg.Go(func() {
				e := event(i)
				e.Source = fmt.Sprintf("test.event:%d", i)
				r, err := l.Append(ctx, e)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				receipts[e.Source] = append(receipts[e.Source], r)
				mu.Unlock()
			})
		}
	}
	for i := range plain {
		wg.Go(func() {
			if _, err := other.Append(ctx, event(sourced+i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for src, rs := range receipts {
		if len(rs) != 3 {
			t.Fatalf("%s: %d receipts", src, len(rs))
		}
		for _, r := range rs[1:] {
			if r.Index != rs[0].Index || string(r.LeafHash) != string(rs[0].LeafHash) {
				t.Errorf("%s: receipts name records %d and %d", src, rs[0].Index, r.Index)
			}
		}
		rec, _, err := f.log.Entry(ctx, rs[0].Index)
		if err != nil || rec.Source != src {
			t.Errorf("record %d: source %q (%v), want %q", rs[0].Index, rec.Source, err, src)
		}
		if seen[rs[0].Index] {
			t.Errorf("record %d holds two sources", rs[0].Index)
		}
		seen[rs[0].Index] = true
	}
	if _, err := f.log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, f.st, f.log.Verifier())
	if err != nil || rep.Records != sourced+plain {
		t.Fatalf("Verify = %+v, %v; want %d records", rep, err, sourced+plain)
	}
	have, err := f.log.Recorded(ctx, []string{"test.event:0", "test.event:99", "test.event:100"})
	if err != nil || len(have) != 2 {
		t.Fatalf("Recorded = %v, %v", have, err)
	}
	// One source queued many times at once, likely in one batch.
	same := make([]audit.Receipt, 64)
	for i := range same {
		wg.Go(func() {
			e := event(i)
			e.Source = "test.same"
			var err error
			if same[i], err = f.log.Append(ctx, e); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, r := range same[1:] {
		if r.Index != same[0].Index {
			t.Fatalf("one source recorded at %d and %d", same[0].Index, r.Index)
		}
	}
	if h, err := f.st.AuditHead(ctx); err != nil || h.Size != sourced+plain+1 {
		t.Fatalf("log size %d (%v) after one more source, want %d", h.Size, err, sourced+plain+1)
	}
	if _, err := f.log.Append(ctx, audit.Event{Actor: "system", Action: "x", Source: "bad\nsource"}); err == nil {
		t.Error("a source with a control character was accepted")
	}
}

// gatedStore holds the first append until gate closes, so that the events
// appended meanwhile queue up for one batch.
type gatedStore struct {
	audit.Store
	gate chan struct{}
	once sync.Once
}

func (g *gatedStore) AppendAudit(ctx context.Context, build func(store.AuditHead) ([]store.AuditAppend, error)) ([]store.AuditAppend, error) {
	g.once.Do(func() { <-g.gate })
	return g.Store.AppendAudit(ctx, build)
}

// TestSourceTwiceInOneBatch: copies of one source queued into one group
// commit are appended once; every caller gets that record's receipt, and
// the other events of the batch are appended.
func TestSourceTwiceInOneBatch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	g := &gatedStore{Store: f.st, gate: make(chan struct{})}
	l, err := audit.New(g, f.key, audit.Options{Clock: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := l.Append(ctx, event(0)); err != nil { // held at the gate
			t.Error(err)
		}
	})
	receipts := make([]audit.Receipt, 32)
	for i := range receipts {
		wg.Go(func() {
			e := event(i + 1)
			if i%2 == 0 {
				e.Source = "test.same"
			}
			var err error
			if receipts[i], err = l.Append(ctx, e); err != nil {
				t.Error(err)
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // let the appends queue behind the gate
	close(g.gate)
	wg.Wait()
	for i := 2; i < len(receipts); i += 2 {
		if receipts[i].Index != receipts[0].Index {
			t.Fatalf("one source recorded at %d and %d", receipts[0].Index, receipts[i].Index)
		}
	}
	if h, err := f.st.AuditHead(ctx); err != nil || h.Size != uint64(1+1+len(receipts)/2) {
		t.Fatalf("log size %d (%v), want %d", h.Size, err, 1+1+len(receipts)/2)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(ctx, f.st, l.Verifier()); err != nil {
		t.Fatal(err)
	}
}
