package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/store"
)

// auditDataDir makes a data directory whose audit log holds the key
// ceremony's record and 10 more (record i+1 is about identity:i), with
// checkpoints at sizes 7 and 11.
func auditDataDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	clock := func() time.Time { return time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC) }
	cfg := ca.DefaultConfig()
	cfg.PublicURL = "http://127.0.0.1:8080"
	n, _, err := node.Open(context.Background(), node.Options{Dir: dir, Create: true, Clock: clock, CA: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for i := range 10 {
		e := audit.Event{Actor: "officer:khalid", Action: "enrollment.create", Subject: fmt.Sprintf("identity:%d", i),
			Details: map[string]string{"national_id": fmt.Sprintf("99%08d", i)}}
		if _, err := n.Audit.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		if i == 5 || i == 9 {
			if _, err := n.Audit.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "copy")
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// tamper edits a bucket of the data directory's store, as an attacker
// with the file would.
func tamper(t *testing.T, dir, bucket string, fn func(b *bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "thiqa.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket([]byte(bucket))) }); err != nil {
		t.Fatal(err)
	}
}

func idx(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

func TestAuditVerify(t *testing.T) {
	base := auditDataDir(t)
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		code   int
		want   string
	}{
		{"untouched", func(*testing.T, string) {}, 0, "OK 11 records, 2 signed checkpoints"},
		{"record changed", func(t *testing.T, dir string) {
			tamper(t, dir, "audit_records", func(b *bolt.Bucket) error {
				v := strings.Replace(string(b.Get(idx(3))), "identity:2", "identity:X", 1)
				return b.Put(idx(3), []byte(v))
			})
		}, 1, "FAIL record 3: stored leaf hash differs from the record's"},
		{"record dropped", func(t *testing.T, dir string) {
			tamper(t, dir, "audit_records", func(b *bolt.Bucket) error { return b.Delete(idx(4)) })
		}, 1, "FAIL record 4: missing"},
		{"checkpoint changed", func(t *testing.T, dir string) {
			tamper(t, dir, "audit_checkpoints", func(b *bolt.Bucket) error {
				var c store.AuditCheckpoint
				if err := json.Unmarshal(b.Get(idx(7)), &c); err != nil {
					return err
				}
				c.Note = []byte(strings.Replace(string(c.Note), "time 2026-11-01", "time 2026-11-02", 1))
				v, err := json.Marshal(c)
				if err != nil {
					return err
				}
				return b.Put(idx(7), v)
			})
		}, 1, "FAIL checkpoint of size 7: signature does not verify"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, base)
			tc.tamper(t, dir)
			out, code := run(t, nil, "audit", "verify", "--data", dir)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("audit verify: exit %d, want %d with %q:\n%s", code, tc.code, tc.want, out)
			}
		})
	}
	t.Run("pinned key", func(t *testing.T) {
		out, code := run(t, nil, "audit", "checkpoint", "--data", base)
		_, vkey, ok := strings.Cut(out, "verifier key: ")
		if code != 0 || !ok || !strings.Contains(out, "thiqa.jo/audit\n11\n") {
			t.Fatalf("audit checkpoint: exit %d\n%s", code, out)
		}
		other := auditDataDir(t)
		_, otherKey, _ := strings.Cut(must(runOK(t, "audit", "checkpoint", "--data", other)), "verifier key: ")
		otherKey = strings.TrimSpace(otherKey)
		if out, code := run(t, nil, "audit", "verify", "--data", base, "--key", strings.TrimSpace(vkey)); code != 0 {
			t.Fatalf("verify with the right key: exit %d\n%s", code, out)
		}
		out, code = run(t, nil, "audit", "verify", "--data", base, "--key", otherKey)
		if code != 1 || !strings.Contains(out, "FAIL checkpoint of size 7: not signed by the log's key") {
			t.Fatalf("verify with another key: exit %d\n%s", code, out)
		}
	})
	t.Run("show", func(t *testing.T) {
		out, code := run(t, nil, "audit", "show", "3", "--data", base)
		if code != 0 || !strings.Contains(out, `"subject": "identity:2"`) || strings.Contains(out, "9900000002") {
			t.Fatalf("audit show: exit %d\n%s", code, out)
		}
		out, code = run(t, nil, "audit", "show", "3", "--details", "--data", base)
		if code != 0 || !strings.Contains(out, "9900000002") {
			t.Fatalf("audit show --details: exit %d\n%s", code, out)
		}
		if out, code := run(t, nil, "audit", "show", "11", "--data", base); code == 0 {
			t.Fatalf("audit show beyond the log: exit 0\n%s", out)
		}
	})
}

func runOK(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, code := run(t, nil, args...)
	if code != 0 {
		return out, fmt.Errorf("thiqa %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out, nil
}

func TestServeAudit(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	serve(t, data, addr)
	vkey := strings.TrimSpace(string(get(t, "http://"+addr+"/audit/key")))
	v, err := audit.ParseVerifierKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	// serve signs its first checkpoint right after it starts listening.
	waitFor(t, func() bool {
		resp, err := http.Get("http://" + addr + "/audit/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	c, err := audit.OpenCheckpoint(get(t, "http://"+addr+"/audit/checkpoint"), v)
	if err != nil {
		t.Fatal(err)
	}
	if c.Origin != audit.DefaultOrigin {
		t.Fatalf("checkpoint = %+v", c)
	}
	out, code := run(t, nil, "audit", "verify", "--data", data)
	if code != 0 || !strings.Contains(out, "verified by the running server") {
		t.Fatalf("audit verify on a served directory: exit %d\n%s", code, out)
	}
	if out, code := run(t, nil, "audit", "verify", "--data", data, "--key", vkey); code != 0 {
		t.Fatalf("audit verify --key (the right one) on a served directory: exit %d\n%s", code, out)
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, err := audit.New(nil, otherKey, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, code = run(t, nil, "audit", "verify", "--data", data, "--key", other.Verifier().Key())
	if code != 1 || !strings.Contains(out, "FAIL checkpoint of size 1: not signed by the log's key") {
		t.Fatalf("audit verify --key (another) on a served directory: exit %d\n%s", code, out)
	}
	if out, code := run(t, nil, "audit", "show", "0", "--data", data); code == 0 || !strings.Contains(out, "stop thiqa serve") {
		t.Fatalf("audit show on a served directory: exit %d\n%s", code, out)
	}
	if got := string(get(t, "http://"+addr+"/readyz")); got != "ready\n" {
		t.Fatalf("readyz = %q", got)
	}
	// Metrics after that flow: the requests above, the checkpoint's
	// signature through key custody, the readiness probe's store read.
	metrics := string(get(t, "http://"+addr+"/metrics"))
	for _, want := range []string{
		`thiqa_http_requests_total{code="200",route="/audit"}`,
		`thiqa_http_request_duration_seconds_bucket{route="/audit",le=`,
		`thiqa_key_custody_duration_seconds_count{alg="EC-P256",op="sign"}`,
		`thiqa_store_duration_seconds_count{op="ready"} 1`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestAuditHelp(t *testing.T) {
	for _, args := range [][]string{{"audit", "--help"}, {"audit", "verify", "--help"}, {"audit", "checkpoint", "--help"}, {"audit", "show", "--help"}} {
		out, code := run(t, nil, args...)
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Example") {
			t.Errorf("thiqa %s: exit %d, no usage or examples:\n%s", strings.Join(args, " "), code, out)
		}
	}
}
