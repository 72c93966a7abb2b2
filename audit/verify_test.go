package audit_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/store"
)

// The tamper tests edit the store's bbolt buckets directly, as an attacker
// with the data file would. The bucket names are store's.
func key(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

func edit(t *testing.T, st *store.Bolt, bucket string, fn func(b *bolt.Bucket) error) {
	t.Helper()
	err := st.DB().Update(func(tx *bolt.Tx) error { return fn(tx.Bucket([]byte(bucket))) })
	if err != nil {
		t.Fatal(err)
	}
}

func rewriteRecord(i uint64, fn func(r *audit.Record)) func(b *bolt.Bucket) error {
	return func(b *bolt.Bucket) error {
		r, err := audit.ParseRecord(b.Get(key(i)))
		if err != nil {
			return err
		}
		fn(&r)
		enc, err := r.Marshal()
		if err != nil {
			return err
		}
		return b.Put(key(i), enc)
	}
}

func TestVerifyNamesTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, f *fixture)
		want   audit.IntegrityError // zero Reason: no problem expected
	}{
		{"untouched", func(*testing.T, *fixture) {}, audit.IntegrityError{}},
		{"record field changed", func(t *testing.T, f *fixture) {
			edit(t, f.st, "audit_records", rewriteRecord(7, func(r *audit.Record) { r.Actor = "officer:someone-else" }))
		}, audit.IntegrityError{Index: 7, Reason: "stored leaf hash differs from the record's"}},
		{"record and its leaf changed", func(t *testing.T, f *fixture) {
			var enc []byte
			edit(t, f.st, "audit_records", func(b *bolt.Bucket) error {
				if err := rewriteRecord(9, func(r *audit.Record) { r.Action = "nothing" })(b); err != nil {
					return err
				}
				enc = bytes.Clone(b.Get(key(9)))
				return nil
			})
			edit(t, f.st, "audit_nodes", func(b *bolt.Bucket) error {
				return b.Put(append([]byte{0}, key(9)...), audit.LeafHash(enc))
			})
		}, audit.IntegrityError{Index: 8, Reason: "stored tree node (level 1, index 4) differs from the records': a record in [8, 10) was rewritten"}},
		{"record not canonical", func(t *testing.T, f *fixture) {
			edit(t, f.st, "audit_records", func(b *bolt.Bucket) error { return b.Put(key(3), append(bytes.Clone(b.Get(key(3))), ' ')) })
		}, audit.IntegrityError{Index: 3, Reason: "audit: malformed record: not in canonical form"}},
		{"record moved", func(t *testing.T, f *fixture) {
			edit(t, f.st, "audit_records", func(b *bolt.Bucket) error { return b.Put(key(4), bytes.Clone(b.Get(key(5)))) })
		}, audit.IntegrityError{Index: 4, Reason: "record says index 5"}},
		{"record dropped", func(t *testing.T, f *fixture) {
			edit(t, f.st, "audit_records", func(b *bolt.Bucket) error { return b.Delete(key(12)) })
		}, audit.IntegrityError{Index: 12, Reason: "missing"}},
		{"last record dropped", func(t *testing.T, f *fixture) {
			edit(t, f.st, "audit_records", func(b *bolt.Bucket) error { return b.Delete(key(19)) })
		}, audit.IntegrityError{Index: 19, Reason: "missing (the log's head says 20 records)"}},
		{"details changed", func(t *testing.T, f *fixture) {
			edit(t, f.st, "audit_details", func(b *bolt.Bucket) error {
				var d store.AuditDetails
				if err := json.Unmarshal(b.Get(key(2)), &d); err != nil {
					return err
				}
				d.Data = []byte(`{"national_id":"9911111111"}`)
				v, _ := json.Marshal(d)
				return b.Put(key(2), v)
			})
		}, audit.IntegrityError{Index: 2, Reason: "details do not match the record's digest"}},
		{"checkpoint size changed", func(t *testing.T, f *fixture) {
			edit(t, f.st, "audit_checkpoints", func(b *bolt.Bucket) error {
				var c store.AuditCheckpoint
				if err := json.Unmarshal(b.Get(key(16)), &c); err != nil {
					return err
				}
				c.Note = bytes.Replace(c.Note, []byte("\n16\n"), []byte("\n15\n"), 1)
				v, _ := json.Marshal(c)
				return b.Put(key(16), v)
			})
		}, audit.IntegrityError{Index: 16, Checkpoint: true, Reason: "signature does not verify"}},
		{"checkpoint signed by another key", func(t *testing.T, f *fixture) {
			other := newFixture(t)
			other.fill(t, 20)
			c, err := other.log.Checkpoint(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			edit(t, f.st, "audit_checkpoints", func(b *bolt.Bucket) error {
				v, _ := json.Marshal(store.AuditCheckpoint{Size: 20, Note: c.Note, CreatedAt: c.Time})
				return b.Put(key(20), v)
			})
		}, audit.IntegrityError{Index: 20, Checkpoint: true, Reason: "not signed by the log's key"}},
		{"checkpoints deleted", func(t *testing.T, f *fixture) {
			edit(t, f.st, "audit_checkpoints", func(b *bolt.Bucket) error {
				for _, s := range []uint64{4, 16} {
					if err := b.Delete(key(s)); err != nil {
						return err
					}
				}
				return nil
			})
		}, audit.IntegrityError{Checkpoint: true, Reason: "no signed checkpoint in a log of 20 records"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.fill(t, 20, 4, 16)
			tc.tamper(t, f)
			rep, err := audit.Verify(context.Background(), f.st, f.log.Verifier())
			if tc.want.Reason == "" {
				if err != nil || rep.Records != 20 || rep.Checkpoints != 2 || rep.Latest.Size != 16 {
					t.Fatalf("Verify = %+v, %v", rep, err)
				}
				return
			}
			var ie *audit.IntegrityError
			if !errors.As(err, &ie) {
				t.Fatalf("Verify = %v, want an IntegrityError", err)
			}
			if *ie != tc.want {
				t.Fatalf("Verify = %q\n want %q", ie, &tc.want)
			}
		})
	}
}

// TestVerifyRewrittenHistory rewrites a record together with every stored
// node and the head, consistently: only the signed checkpoint can tell.
func TestVerifyRewrittenHistory(t *testing.T) {
	f := newFixture(t)
	f.fill(t, 10, 8)
	// A second log with the same records but record 5 changed, then copy
	// its records, nodes and head over the first's.
	g := newFixture(t)
	ctx := context.Background()
	for i := range 10 {
		e, _, err := f.log.Entry(ctx, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		ev := audit.Event{Actor: e.Actor, Action: e.Action, Subject: e.Subject}
		if i == 5 {
			ev.Subject = "identity:forged"
		}
		if _, err := g.log.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"audit_records", "audit_nodes", "audit_meta", "audit_details"} {
		copyBucket(t, g.st, f.st, name)
	}
	_, err := audit.Verify(ctx, f.st, f.log.Verifier())
	want := &audit.IntegrityError{Index: 8, Checkpoint: true, Reason: "root hash differs from the records': a record in [0, 8) was rewritten along with the stored tree"}
	var ie *audit.IntegrityError
	if !errors.As(err, &ie) || *ie != *want {
		t.Fatalf("Verify = %v, want %v", err, want)
	}
}

func copyBucket(t *testing.T, from, to *store.Bolt, name string) {
	t.Helper()
	kv := map[string][]byte{}
	from.DB().View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(name)).ForEach(func(k, v []byte) error { kv[string(k)] = bytes.Clone(v); return nil })
	})
	edit(t, to, name, func(b *bolt.Bucket) error {
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		for k, v := range kv {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// TestVerifyLive verifies the log again and again while 8 goroutines
// append and checkpoints are signed.
func TestVerifyLive(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.fill(t, 10, 10)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := f.log.Append(ctx, event(g*1000+i)); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					if _, err := f.log.Checkpoint(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	for range 5 {
		rep, err := audit.VerifyLive(ctx, f.st, f.log.Verifier())
		if err != nil || rep.Checkpoints == 0 {
			t.Fatalf("VerifyLive = %+v, %v", rep, err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestVerifyHandler(t *testing.T) {
	f := newFixture(t)
	f.fill(t, 6, 6)
	h := f.log.VerifyHandler()
	get := func(t *testing.T, q string) (int, audit.VerifyResult) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/audit/verify"+q, nil))
		var res audit.VerifyResult
		json.Unmarshal(rec.Body.Bytes(), &res)
		return rec.Code, res
	}
	if code, res := get(t, ""); code != 200 || !res.OK || res.Records != 6 || res.LatestSize != 6 {
		t.Fatalf("verify = %d %+v", code, res)
	}
	other := newFixture(t)
	code, res := get(t, "?key="+url.QueryEscape(other.log.Verifier().Key()))
	if code != 200 || res.OK || res.Problem == nil || !res.Problem.Checkpoint || res.Problem.Index != 6 {
		t.Fatalf("verify with another key = %d %+v", code, res)
	}
	if code, _ := get(t, "?key=junk"); code != 400 {
		t.Fatalf("verify with a bad key = %d", code)
	}
}
