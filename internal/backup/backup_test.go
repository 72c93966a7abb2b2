package backup_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/thiqa/thiqa/internal/backup"
)

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

// source makes a store with a few records and a keys directory.
func source(t testing.TB) backup.Source {
	t.Helper()
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "thiqa.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("certificates"))
		if err != nil {
			return err
		}
		return b.Put([]byte("0a"), []byte("cert"))
	})
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(dir, "keys")
	os.Mkdir(keys, 0o700)
	for _, name := range []string{"root.key", "audit-log.key", ".tmp-123"} {
		os.WriteFile(filepath.Join(keys, name), []byte("wrapped "+name), 0o600)
	}
	return backup.Source{DB: db, KeysDir: keys, AuditCheckpoint: []byte("thiqa.jo/audit\n0\n…"), Clock: func() time.Time { return t0 }}
}

func archive(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := backup.Write(context.Background(), &buf, source(t)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	a := archive(t)
	if _, err := backup.Check(context.Background(), bytes.NewReader(a), backup.Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Check(context.Background(), bytes.NewReader(a[:len(a)/2]), backup.Limits{}); !errors.Is(err, backup.ErrBadArchive) {
		t.Fatalf("Check(truncated) = %v", err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	m, err := backup.Restore(context.Background(), bytes.NewReader(a), dir, backup.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 3 || !m.CreatedAt.Equal(t0) || m.AuditCheckpoint == "" {
		t.Fatalf("manifest = %+v", m)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "keys", "root.key")); err != nil || string(b) != "wrapped root.key" {
		t.Fatalf("root.key = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", ".tmp-123")); err == nil {
		t.Fatal("temporary file archived")
	}
	db, err := bolt.Open(filepath.Join(dir, "thiqa.db"), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte("certificates")).Get([]byte("0a")); string(v) != "cert" {
			t.Errorf("restored record = %q", v)
		}
		return nil
	})
	if _, err := backup.Restore(context.Background(), bytes.NewReader(a), dir, backup.Limits{}); !errors.Is(err, backup.ErrNotEmpty) {
		t.Fatalf("restore over a restored directory = %v", err)
	}
}

type entry struct {
	name string
	typ  byte
	body []byte
}

// rewrite re-packs archive a through fn.
func rewrite(t *testing.T, a []byte, fn func([]entry) []entry) []byte {
	t.Helper()
	var es []entry
	tr := tar.NewReader(bytes.NewReader(a))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		es = append(es, entry{h.Name, h.Typeflag, b})
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range fn(es) {
		tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: e.typ, Size: int64(len(e.body)), Mode: 0o600, Linkname: "/etc/passwd"})
		tw.Write(e.body)
	}
	tw.Close()
	return buf.Bytes()
}

func TestRestoreRefuses(t *testing.T) {
	a := archive(t)
	tests := []struct {
		name string
		edit func([]entry) []entry
	}{
		{"store changed", func(es []entry) []entry { es[0].body[100] ^= 1; return es }},
		{"key changed", func(es []entry) []entry { es[1].body = []byte("other"); return es }},
		{"key dropped", func(es []entry) []entry { return append(es[:1], es[2:]...) }},
		{"extra key", func(es []entry) []entry {
			return append([]entry{{"keys/evil.key", tar.TypeReg, []byte("x")}}, es...)
		}},
		{"path traversal", func(es []entry) []entry {
			return append([]entry{{"keys/../../evil.key", tar.TypeReg, []byte("x")}}, es...)
		}},
		{"symlink", func(es []entry) []entry {
			return append([]entry{{"keys/link.key", tar.TypeSymlink, nil}}, es...)
		}},
		{"no manifest", func(es []entry) []entry { return es[:len(es)-1] }},
		{"after manifest", func(es []entry) []entry { return append(es, entry{"keys/late.key", tar.TypeReg, []byte("x")}) }},
		{"twice", func(es []entry) []entry { return append([]entry{es[1]}, es...) }},
		{"manifest format", func(es []entry) []entry {
			es[len(es)-1].body = bytes.Replace(es[len(es)-1].body, []byte(backup.Format), []byte("other/v9"), 1)
			return es
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := rewrite(t, a, tc.edit)
			if _, err := backup.Check(context.Background(), bytes.NewReader(bad), backup.Limits{}); !errors.Is(err, backup.ErrBadArchive) {
				t.Fatalf("Check = %v, want ErrBadArchive", err)
			}
			dir := filepath.Join(t.TempDir(), "restored")
			_, err := backup.Restore(context.Background(), bytes.NewReader(bad), dir, backup.Limits{})
			if !errors.Is(err, backup.ErrBadArchive) {
				t.Fatalf("Restore = %v, want ErrBadArchive", err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("refused restore left %d files", len(ents))
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "evil.key")); err == nil {
				t.Fatal("file written outside the target")
			}
		})
	}
	t.Run("store too large", func(t *testing.T) {
		_, err := backup.Restore(context.Background(), bytes.NewReader(a), t.TempDir(), backup.Limits{MaxDBSize: 100})
		if !errors.Is(err, backup.ErrBadArchive) {
			t.Fatalf("Restore = %v", err)
		}
	})
}

// FuzzRestore: archives come from operators' storage, possibly damaged.
func FuzzRestore(f *testing.F) {
	f.Add(archive(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		backup.Restore(context.Background(), bytes.NewReader(b), dir, backup.Limits{MaxDBSize: 1 << 20, MaxKeyFiles: 100})
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Name() != "thiqa.db" && e.Name() != "keys" {
				t.Fatalf("restore wrote %q", e.Name())
			}
		}
	})
}

// BenchmarkWrite archives a store of about 64 MiB (b.SetBytes: MB/s).
func BenchmarkWrite(b *testing.B) {
	src := source(b)
	val := make([]byte, 4096)
	err := src.DB.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte("bulk"))
		if err != nil {
			return err
		}
		bk.FillPercent = 1
		for i := range 16384 {
			if err := bk.Put([]byte(fmt.Sprintf("%08d", i)), val); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	src.DB.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	b.SetBytes(size)
	for b.Loop() {
		if _, err := backup.Write(context.Background(), io.Discard, src); err != nil {
			b.Fatal(err)
		}
	}
}
