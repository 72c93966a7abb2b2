package audit_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/store"
)

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

// clock is a pinned clock that moves one second per reading.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

type fixture struct {
	st  *store.Bolt
	log *audit.Log
	key *ecdsa.PrivateKey
	clk *clock
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: t0}
	l, err := audit.New(st, key, audit.Options{Clock: clk.Now, Retention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, log: l, key: key, clk: clk}
}

func event(i int) audit.Event {
	e := audit.Event{Actor: "officer:khalid", Action: "enrollment.create", Subject: fmt.Sprintf("identity:%04d", i)}
	if i%3 != 0 {
		e.Details = map[string]any{"national_id": fmt.Sprintf("99%08d", i), "evidence": "id-card"}
	}
	return e
}

// fill appends n events and signs a checkpoint after each size in at.
func (f *fixture) fill(t testing.TB, n int, at ...int) []audit.Receipt {
	t.Helper()
	ctx := context.Background()
	var rs []audit.Receipt
	for i := range n {
		r, err := f.log.Append(ctx, event(i))
		if err != nil {
			t.Fatal(err)
		}
		if r.Index != uint64(i) || !bytes.Equal(r.LeafHash, rfc6962.DefaultHasher.HashLeaf(r.Record)) {
			t.Fatalf("receipt %d = %+v", i, r)
		}
		rs = append(rs, r)
		for _, s := range at {
			if s == i+1 {
				if _, err := f.log.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return rs
}

// mth is RFC 6962's Merkle Tree Hash, written out from section 2.1, as a
// reference independent of the log's compact ranges.
func mth(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		h := sha256.Sum256(append([]byte{0}, leaves[0]...))
		return h[:]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	h := sha256.Sum256(append(append([]byte{1}, mth(leaves[:k])...), mth(leaves[k:])...))
	return h[:]
}

func TestAppendCheckpointProofs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sizes := []int{1, 2, 5, 8, 13, 32, 37}
	rs := f.fill(t, 37, sizes...)
	var records [][]byte
	for _, r := range rs {
		records = append(records, r.Record)
	}
	var cps []audit.Checkpoint
	for _, s := range sizes {
		root, err := f.log.RootAt(ctx, uint64(s))
		if err != nil {
			t.Fatal(err)
		}
		if want := mth(records[:s]); !bytes.Equal(root, want) {
			t.Fatalf("RootAt(%d) = %x, want %x", s, root, want)
		}
		cps = append(cps, audit.Checkpoint{Size: uint64(s), Root: root})
	}
	latest, err := f.log.Latest(ctx)
	if err != nil || latest.Size != 37 || !bytes.Equal(latest.Root, cps[len(cps)-1].Root) {
		t.Fatalf("Latest = %+v, %v", latest, err)
	}
	for _, c := range cps {
		for i := range c.Size {
			t.Run(fmt.Sprintf("inclusion %d in %d", i, c.Size), func(t *testing.T) {
				p, err := f.log.InclusionProof(ctx, i, c.Size)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, c.Size, rs[i].LeafHash, p.Hashes, c.Root); err != nil {
					t.Fatal(err)
				}
			})
		}
		for _, d := range cps {
			if d.Size < c.Size {
				continue
			}
			t.Run(fmt.Sprintf("consistency %d to %d", c.Size, d.Size), func(t *testing.T) {
				p, err := f.log.ConsistencyProof(ctx, c.Size, d.Size)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyConsistency(rfc6962.DefaultHasher, c.Size, d.Size, p.Hashes, c.Root, d.Root); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	t.Run("by hash", func(t *testing.T) {
		p, err := f.log.InclusionProofByHash(ctx, rs[20].LeafHash, 32)
		if err != nil || p.Index != 20 {
			t.Fatalf("InclusionProofByHash = %+v, %v", p, err)
		}
		if _, err := f.log.InclusionProofByHash(ctx, rs[33].LeafHash, 32); !errors.Is(err, audit.ErrOutOfRange) {
			t.Fatalf("leaf beyond size: %v", err)
		}
	})
	t.Run("out of range", func(t *testing.T) {
		for _, tc := range []struct{ i, size uint64 }{{5, 5}, {0, 38}} {
			if _, err := f.log.InclusionProof(ctx, tc.i, tc.size); !errors.Is(err, audit.ErrOutOfRange) {
				t.Errorf("InclusionProof(%d, %d) = %v", tc.i, tc.size, err)
			}
		}
		if _, err := f.log.ConsistencyProof(ctx, 8, 5); !errors.Is(err, audit.ErrOutOfRange) {
			t.Errorf("ConsistencyProof(8, 5) = %v", err)
		}
	})
}

func TestCheckpointIdempotentAndSigned(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.log.Latest(ctx); !errors.Is(err, audit.ErrNoCheckpoint) {
		t.Fatalf("Latest on a new log = %v", err)
	}
	empty, err := f.log.Checkpoint(ctx)
	if err != nil || empty.Size != 0 || !bytes.Equal(empty.Root, rfc6962.DefaultHasher.EmptyRoot()) {
		t.Fatalf("empty checkpoint = %+v, %v", empty, err)
	}
	f.fill(t, 3)
	a, err := f.log.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.log.Checkpoint(ctx)
	if err != nil || !bytes.Equal(a.Note, b.Note) {
		t.Fatalf("second checkpoint of the same size re-signed: %v", err)
	}
	v, err := audit.ParseVerifierKey(f.log.Verifier().Key())
	if err != nil {
		t.Fatal(err)
	}
	c, err := audit.OpenCheckpoint(a.Note, v)
	if err != nil || c.Size != 3 || c.Origin != audit.DefaultOrigin || !c.Time.Equal(a.Time) {
		t.Fatalf("OpenCheckpoint = %+v, %v", c, err)
	}
	other := newFixture(t)
	if _, err := audit.OpenCheckpoint(a.Note, other.log.Verifier()); !errors.Is(err, audit.ErrBadCheckpoint) {
		t.Fatalf("checkpoint opened with another key: %v", err)
	}
}

func TestAppendRejects(t *testing.T) {
	f := newFixture(t)
	long := string(bytes.Repeat([]byte("a"), audit.MaxFieldLen+1))
	for _, tc := range []struct {
		name string
		e    audit.Event
	}{
		{"no actor", audit.Event{Action: "x"}},
		{"no action", audit.Event{Actor: "x"}},
		{"long subject", audit.Event{Actor: "x", Action: "y", Subject: long}},
		{"newline", audit.Event{Actor: "x\ny", Action: "y"}},
		{"bad utf-8", audit.Event{Actor: "\xff", Action: "y"}},
		{"details not JSON", audit.Event{Actor: "x", Action: "y", Details: func() {}}},
		{"details too long", audit.Event{Actor: "x", Action: "y", Details: bytes.Repeat([]byte("a"), audit.MaxDetailsLen)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.log.Append(context.Background(), tc.e); !errors.Is(err, audit.ErrBadEvent) {
				t.Fatalf("Append = %v, want ErrBadEvent", err)
			}
		})
	}
}

func TestConcurrentAppends(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	seen := make([]bool, n)
	var mu sync.Mutex
	for i := range n {
		wg.Go(func() {
			r, err := f.log.Append(ctx, event(i))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if r.Index >= n || seen[r.Index] {
				t.Errorf("index %d given twice or out of range", r.Index)
				return
			}
			seen[r.Index] = true
		})
	}
	wg.Wait()
	if _, err := f.log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, f.st, f.log.Verifier())
	if err != nil || rep.Records != n || rep.Checkpoints != 1 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestDetailsKeptApart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rs := f.fill(t, 3)
	if bytes.Contains(rs[1].Record, []byte("9900000001")) || bytes.Contains(rs[1].Record, []byte("id-card")) {
		t.Fatalf("record holds details: %s", rs[1].Record)
	}
	rec, d, err := f.log.Entry(ctx, 1)
	if err != nil || d == nil || rec.Details != audit.DetailsDigest(d.Salt, d.Data) {
		t.Fatalf("Entry(1) = %+v, %+v, %v", rec, d, err)
	}
	var got map[string]string
	if err := json.Unmarshal(d.Data, &got); err != nil || got["national_id"] != "9900000001" {
		t.Fatalf("details = %s, %v", d.Data, err)
	}
	f.clk.now = t0.Add(48 * time.Hour)
	if n, err := f.log.PurgeDetails(ctx); err != nil || n != 2 {
		t.Fatalf("PurgeDetails = %d, %v; want 2", n, err)
	}
	if _, d, err := f.log.Entry(ctx, 1); err != nil || d != nil {
		t.Fatalf("details after purge = %+v, %v", d, err)
	}
	if _, err := f.log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(ctx, f.st, f.log.Verifier()); err != nil {
		t.Fatalf("Verify after purge: %v", err)
	}
}

func TestHandler(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	srv := httptest.NewServer(f.log.Handler())
	defer srv.Close()
	get := func(t *testing.T, path string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get(t, "/audit/checkpoint"); code != http.StatusNotFound {
		t.Fatalf("checkpoint before the first = %d", code)
	}
	rs := f.fill(t, 11, 6, 11)
	code, body := get(t, "/audit/checkpoint")
	if code != 200 {
		t.Fatalf("checkpoint = %d %s", code, body)
	}
	code, vkey := get(t, "/audit/key")
	v, err := audit.ParseVerifierKey(string(bytes.TrimSpace(vkey)))
	if code != 200 || err != nil {
		t.Fatalf("key = %d %s %v", code, vkey, err)
	}
	cp, err := audit.OpenCheckpoint(body, v)
	if err != nil || cp.Size != 11 {
		t.Fatalf("published checkpoint = %+v, %v", cp, err)
	}
	old, err := f.log.RootAt(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		code       int
		check      func(t *testing.T, body []byte)
	}{
		{"inclusion by index", "/audit/proof/inclusion?index=4", 200, func(t *testing.T, b []byte) {
			var p audit.InclusionProof
			json.Unmarshal(b, &p)
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 4, 11, rs[4].LeafHash, p.Hashes, cp.Root); err != nil {
				t.Fatal(err)
			}
		}},
		{"inclusion by hash", fmt.Sprintf("/audit/proof/inclusion?hash=%x&size=6", rs[5].LeafHash), 200, func(t *testing.T, b []byte) {
			var p audit.InclusionProof
			json.Unmarshal(b, &p)
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 5, 6, rs[5].LeafHash, p.Hashes, old); err != nil || p.Index != 5 {
				t.Fatal(p.Index, err)
			}
		}},
		{"consistency", "/audit/proof/consistency?from=6", 200, func(t *testing.T, b []byte) {
			var p audit.ConsistencyProof
			json.Unmarshal(b, &p)
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 6, 11, p.Hashes, old, cp.Root); err != nil {
				t.Fatal(err)
			}
		}},
		{"index and hash", "/audit/proof/inclusion?index=1&hash=00", 400, nil},
		{"neither", "/audit/proof/inclusion", 400, nil},
		{"bad index", "/audit/proof/inclusion?index=-1", 400, nil},
		{"index beyond", "/audit/proof/inclusion?index=11", 400, nil},
		{"size beyond", "/audit/proof/inclusion?index=1&size=12", 400, nil},
		{"bad hash", "/audit/proof/inclusion?hash=zz", 400, nil},
		{"unknown hash", fmt.Sprintf("/audit/proof/inclusion?hash=%x", make([]byte, 32)), 400, nil},
		{"consistency backwards", "/audit/proof/consistency?from=11&to=6", 400, nil},
		{"consistency no from", "/audit/proof/consistency", 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, tc.path)
			if code != tc.code {
				t.Fatalf("%s = %d %s, want %d", tc.path, code, body, tc.code)
			}
			if tc.check != nil {
				tc.check(t, body)
			}
		})
	}
}

func TestOnCommit(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	counts := map[string]int{}
	l, err := audit.New(f.st, f.key, audit.Options{Clock: f.clk.Now, OnCommit: func(actions []string, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range actions {
			counts[a]++
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"certificate.issue", "certificate.issue", "certificate.revoke"} {
		if _, err := l.Append(context.Background(), audit.Event{Actor: "system", Action: a}); err != nil {
			t.Fatal(err)
		}
	}
	if counts["certificate.issue"] != 2 || counts["certificate.revoke"] != 1 {
		t.Fatalf("OnCommit saw %v", counts)
	}
}

func TestRun(t *testing.T) {
	f := newFixture(t)
	f.fill(t, 5)
	f.clk.now = t0.Add(48 * time.Hour) // past the fixture's one-day retention
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.log.Run(ctx, time.Hour, func(err error) { t.Error(err) })
	}()
	// The first tick runs at once: wait for its checkpoint, then stop.
	for {
		if c, err := f.log.Latest(context.Background()); err == nil && c.Size == 5 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	for i := range uint64(5) {
		if _, d, err := f.log.Entry(context.Background(), i); err != nil || d != nil {
			t.Fatalf("entry %d after Run: details %+v, %v", i, d, err)
		}
	}
}
