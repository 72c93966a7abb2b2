package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/store"
)

// AuditStore is every audit-log method the contract covers.
type AuditStore interface {
	AppendAudit(ctx context.Context, build func(head store.AuditHead) ([]store.AuditAppend, error)) ([]store.AuditAppend, error)
	AuditHead(ctx context.Context) (store.AuditHead, error)
	AuditEntries(ctx context.Context, from uint64, limit int) ([]store.AuditEntry, error)
	AuditEntry(ctx context.Context, index uint64) (store.AuditEntry, error)
	AuditNodes(ctx context.Context, ids []store.AuditNodeID) ([][]byte, error)
	AuditLeafIndex(ctx context.Context, hash []byte) (uint64, error)
	AuditSourceIndexes(ctx context.Context, sources []string) (map[string]uint64, error)
	SaveAuditCheckpoint(ctx context.Context, c store.AuditCheckpoint) error
	LatestAuditCheckpoint(ctx context.Context) (store.AuditCheckpoint, error)
	AuditCheckpoints(ctx context.Context, from uint64, limit int) ([]store.AuditCheckpoint, error)
	PurgeAuditDetails(ctx context.Context, now time.Time, limit int) (int, error)
}

func leafHash(i uint64) []byte {
	h := sha256.Sum256(fmt.Appendf(nil, "leaf %d", i))
	return h[:]
}

// auditBuild appends n toy entries: the store does not interpret hashes, so
// any bytes do.
func auditBuild(n int, details bool) func(store.AuditHead) ([]store.AuditAppend, error) {
	return func(h store.AuditHead) ([]store.AuditAppend, error) {
		var out []store.AuditAppend
		for i := h.Size; i < h.Size+uint64(n); i++ {
			a := store.AuditAppend{
				Entry: store.AuditEntry{Index: i, Record: fmt.Appendf(nil, "record %d", i)},
				Nodes: []store.AuditNode{{AuditNodeID: store.AuditNodeID{Level: 0, Index: i}, Hash: leafHash(i)}},
				Head:  store.AuditHead{Size: i + 1, Frontier: [][]byte{leafHash(i)}},
			}
			if details {
				a.Entry.Details = &store.AuditDetails{Salt: []byte{byte(i)}, Data: []byte(`{"n":1}`), RetainUntil: t0.Add(time.Duration(i) * time.Hour)}
			}
			out = append(out, a)
		}
		return out, nil
	}
}

// RunAudit runs the audit-log contract against fresh, empty stores made by
// open.
func RunAudit(t *testing.T, open func(t *testing.T) AuditStore) {
	ctx := context.Background()
	t.Run("Empty", func(t *testing.T) {
		s := open(t)
		if h, err := s.AuditHead(ctx); err != nil || h.Size != 0 {
			t.Fatalf("AuditHead = %+v, %v", h, err)
		}
		if _, err := s.LatestAuditCheckpoint(ctx); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("LatestAuditCheckpoint = %v, want ErrNotFound", err)
		}
		if _, err := s.AuditEntry(ctx, 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("AuditEntry(0) = %v, want ErrNotFound", err)
		}
		if _, err := s.AuditNodes(ctx, []store.AuditNodeID{{Level: 0, Index: 0}}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("AuditNodes = %v, want ErrNotFound", err)
		}
	})
	t.Run("AppendAndRead", func(t *testing.T) {
		s := open(t)
		for i := range 3 {
			as, err := s.AppendAudit(ctx, auditBuild(1, i%2 == 0))
			if err != nil || len(as) != 1 || as[0].Entry.Index != uint64(i) {
				t.Fatalf("append %d = %+v, %v", i, as, err)
			}
		}
		// A batch of two: indexes 3 and 4.
		if as, err := s.AppendAudit(ctx, auditBuild(2, false)); err != nil || len(as) != 2 || as[1].Entry.Index != 4 {
			t.Fatalf("append batch = %+v, %v", as, err)
		}
		h, err := s.AuditHead(ctx)
		if err != nil || h.Size != 5 || !bytes.Equal(h.Frontier[0], leafHash(4)) {
			t.Fatalf("AuditHead = %+v, %v", h, err)
		}
		es, err := s.AuditEntries(ctx, 1, 3)
		if err != nil || len(es) != 3 || es[0].Index != 1 || string(es[2].Record) != "record 3" {
			t.Fatalf("AuditEntries(1, 3) = %+v, %v", es, err)
		}
		if es[0].Details != nil || es[1].Details == nil || string(es[1].Details.Data) != `{"n":1}` || es[2].Details != nil {
			t.Fatalf("details = %+v, %+v", es[0].Details, es[1].Details)
		}
		hs, err := s.AuditNodes(ctx, []store.AuditNodeID{{Level: 0, Index: 3}, {Level: 0, Index: 1}})
		if err != nil || !bytes.Equal(hs[0], leafHash(3)) || !bytes.Equal(hs[1], leafHash(1)) {
			t.Fatalf("AuditNodes = %x, %v", hs, err)
		}
		if i, err := s.AuditLeafIndex(ctx, leafHash(2)); err != nil || i != 2 {
			t.Fatalf("AuditLeafIndex = %d, %v", i, err)
		}
		if _, err := s.AuditLeafIndex(ctx, leafHash(9)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("AuditLeafIndex(missing) = %v", err)
		}
	})
	t.Run("AppendRejects", func(t *testing.T) {
		s := open(t)
		bad := []struct {
			name string
			edit func(*store.AuditAppend)
		}{
			{"wrong index", func(a *store.AuditAppend) { a.Entry.Index = 7 }},
			{"head not grown", func(a *store.AuditAppend) { a.Head.Size = 1 }},
			{"no leaf", func(a *store.AuditAppend) { a.Nodes = nil }},
			{"empty record", func(a *store.AuditAppend) { a.Entry.Record = nil }},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.AppendAudit(ctx, func(h store.AuditHead) ([]store.AuditAppend, error) {
					as, _ := auditBuild(2, false)(h)
					tc.edit(&as[1]) // the first is fine: nothing of the batch may be written
					return as, nil
				})
				if err == nil {
					t.Fatal("append succeeded")
				}
			})
		}
		boom := errors.New("boom")
		if _, err := s.AppendAudit(ctx, func(store.AuditHead) ([]store.AuditAppend, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("build error = %v", err)
		}
		if h, _ := s.AuditHead(ctx); h.Size != 0 {
			t.Fatalf("size after rejected appends = %d", h.Size)
		}
	})
	t.Run("SourceOnce", func(t *testing.T) {
		s := open(t)
		withSources := func(n int, sources ...string) func(store.AuditHead) ([]store.AuditAppend, error) {
			return func(h store.AuditHead) ([]store.AuditAppend, error) {
				as, err := auditBuild(n, false)(h)
				for i := range as {
					as[i].Entry.Source = sources[i]
				}
				return as, err
			}
		}
		if _, err := s.AppendAudit(ctx, withSources(2, "ev:a", "")); err != nil {
			t.Fatal(err)
		}
		for _, srcs := range [][]string{{"ev:b", "ev:a"}, {"ev:c", "ev:c"}} {
			if _, err := s.AppendAudit(ctx, withSources(2, srcs...)); !errors.Is(err, store.ErrDuplicate) {
				t.Fatalf("append of sources %v = %v, want ErrDuplicate", srcs, err)
			}
		}
		if h, _ := s.AuditHead(ctx); h.Size != 2 {
			t.Fatalf("size after refused appends = %d, want 2", h.Size)
		}
		if _, err := s.AppendAudit(ctx, withSources(1, "ev:b")); err != nil {
			t.Fatal(err)
		}
		got, err := s.AuditSourceIndexes(ctx, []string{"ev:a", "ev:b", "ev:c", ""})
		if err != nil || len(got) != 2 || got["ev:a"] != 0 || got["ev:b"] != 2 {
			t.Fatalf("AuditSourceIndexes = %v, %v", got, err)
		}
	})
	t.Run("ConcurrentAppends", func(t *testing.T) {
		s := open(t)
		const n = 64
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := s.AppendAudit(ctx, auditBuild(1, false))
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		es, err := s.AuditEntries(ctx, 0, 1000)
		if err != nil || len(es) != n {
			t.Fatalf("entries = %d, %v", len(es), err)
		}
		for i, e := range es {
			if e.Index != uint64(i) || string(e.Record) != fmt.Sprintf("record %d", i) {
				t.Fatalf("entry %d = %d %q", i, e.Index, e.Record)
			}
		}
	})
	t.Run("Checkpoints", func(t *testing.T) {
		s := open(t)
		if _, err := s.AppendAudit(ctx, auditBuild(4, false)); err != nil {
			t.Fatal(err)
		}
		cp := func(size uint64) store.AuditCheckpoint {
			return store.AuditCheckpoint{Size: size, Note: fmt.Appendf(nil, "note %d", size), CreatedAt: t0}
		}
		for _, size := range []uint64{1, 3} {
			if err := s.SaveAuditCheckpoint(ctx, cp(size)); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			size uint64
			want error
		}{{3, store.ErrDuplicate}, {2, store.ErrConflict}, {5, store.ErrConflict}} {
			if err := s.SaveAuditCheckpoint(ctx, cp(tc.size)); !errors.Is(err, tc.want) {
				t.Errorf("SaveAuditCheckpoint(%d) = %v, want %v", tc.size, err, tc.want)
			}
		}
		got, err := s.LatestAuditCheckpoint(ctx)
		if err != nil || got.Size != 3 || string(got.Note) != "note 3" || !got.CreatedAt.Equal(t0) {
			t.Fatalf("LatestAuditCheckpoint = %+v, %v", got, err)
		}
		all, err := s.AuditCheckpoints(ctx, 2, 10)
		if err != nil || len(all) != 1 || all[0].Size != 3 {
			t.Fatalf("AuditCheckpoints(2) = %+v, %v", all, err)
		}
	})
	t.Run("PurgeDetails", func(t *testing.T) {
		s := open(t)
		if _, err := s.AppendAudit(ctx, auditBuild(4, true)); err != nil {
			t.Fatal(err)
		}
		// Entry i is kept until t0 + i hours.
		n, err := s.PurgeAuditDetails(ctx, t0.Add(90*time.Minute), 0)
		if err != nil || n != 2 {
			t.Fatalf("PurgeAuditDetails = %d, %v; want 2", n, err)
		}
		es, err := s.AuditEntries(ctx, 0, 10)
		if err != nil || len(es) != 4 {
			t.Fatalf("entries = %d, %v", len(es), err)
		}
		for i, e := range es {
			if (e.Details == nil) != (i < 2) {
				t.Errorf("entry %d details = %+v", i, e.Details)
			}
			if len(e.Record) == 0 {
				t.Errorf("entry %d lost its record", i)
			}
		}
	})
}
