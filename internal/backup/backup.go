// Package backup writes and restores a consistent copy of a Thiqa data
// directory while the server runs: a snapshot of the embedded store taken in
// one read transaction (bbolt's hot backup), the key-custody files (keys
// wrapped under the key-encryption key) and a manifest with the SHA-256 of
// every file and the audit log's latest signed checkpoint.
//
// The key-encryption key (KEK) is never in a backup: without it the wrapped
// keys are useless, and a backup must be safe to store off-site. Keep the
// KEK apart (a sealed envelope or an HSM for a pilot; the HSM itself for a
// national deployment); docs/OPERATIONS.md says how.
//
// The archive is a tar stream: thiqa.db, then keys/<id>.key, then
// manifest.json. [Restore] accepts nothing else, checks every size against
// its limits and every digest against the manifest, and refuses to write
// into a directory that holds anything.
//
// This package must not import other Thiqa packages; internal/node wires it.
package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Format names the archive layout in its manifest.
const Format = "thiqa-backup/v1"

// File names inside the archive and the data directory.
const (
	DBFile       = "thiqa.db"
	KeysDir      = "keys"
	ManifestFile = "manifest.json"
)

// Errors of this package.
var (
	// ErrBadArchive: the archive is malformed, holds an unexpected file,
	// exceeds a limit or does not match its manifest.
	ErrBadArchive = errors.New("backup: malformed or corrupt archive")
	// ErrNotEmpty: the restore target already holds files.
	ErrNotEmpty = errors.New("backup: restore target is not empty")
)

var keyFile = regexp.MustCompile(`^keys/[a-z0-9][a-z0-9._-]{0,127}\.key$`)

// Manifest describes an archive; it is its last entry.
type Manifest struct {
	Format    string          `json:"format"`
	CreatedAt time.Time       `json:"created_at"`
	Files     map[string]File `json:"files"`
	// AuditCheckpoint is the audit log's latest signed checkpoint when the
	// backup was taken (empty when none): after a restore, thiqa audit
	// verify must accept the log up to at least this size.
	AuditCheckpoint string `json:"audit_checkpoint,omitempty"`
}

// File is one archived file.
type File struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Source is what Write copies.
type Source struct {
	// DB is the open store; its snapshot is taken in one read transaction,
	// so writers are not blocked.
	DB *bolt.DB
	// KeysDir holds key custody's files (<id>.key); "" for none (PKCS#11).
	KeysDir string
	// AuditCheckpoint is recorded in the manifest.
	AuditCheckpoint []byte
	// Clock replaces time.Now.
	Clock func() time.Time
}

// Write writes an archive of src to w. The store snapshot comes first and
// the keys after it, so every key the snapshot refers to is included (keys
// are created before they are referred to, and never deleted).
func Write(ctx context.Context, w io.Writer, src Source) (Manifest, error) {
	now := time.Now
	if src.Clock != nil {
		now = src.Clock
	}
	m := Manifest{Format: Format, CreatedAt: now().UTC(), Files: map[string]File{}, AuditCheckpoint: string(src.AuditCheckpoint)}
	tw := tar.NewWriter(w)
	err := src.DB.View(func(tx *bolt.Tx) error {
		return addFile(tw, &m, DBFile, tx.Size(), m.CreatedAt, func(w io.Writer) error {
			_, err := tx.WriteTo(w)
			return err
		})
	})
	if err != nil {
		return m, fmt.Errorf("write backup: store snapshot: %w", err)
	}
	if err := addKeys(ctx, tw, &m, src.KeysDir); err != nil {
		return m, fmt.Errorf("write backup: %w", err)
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, fmt.Errorf("write backup: %w", err)
	}
	hdr := &tar.Header{Name: ManifestFile, Mode: 0o600, Size: int64(len(mb)), ModTime: m.CreatedAt, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return m, fmt.Errorf("write backup: %w", err)
	}
	if _, err := tw.Write(mb); err != nil {
		return m, fmt.Errorf("write backup: %w", err)
	}
	if err := tw.Close(); err != nil {
		return m, fmt.Errorf("write backup: %w", err)
	}
	return m, nil
}

func addKeys(ctx context.Context, tw *tar.Writer, m *Manifest, dir string) error {
	if dir == "" {
		return nil
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.key"))
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, p := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("key file: %w", err)
		}
		name := KeysDir + "/" + filepath.Base(p)
		if !keyFile.MatchString(name) {
			continue
		}
		err = addFile(tw, m, name, int64(len(b)), m.CreatedAt, func(w io.Writer) error {
			_, err := w.Write(b)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func addFile(tw *tar.Writer, m *Manifest, name string, size int64, mtime time.Time, write func(io.Writer) error) error {
	hdr := &tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: mtime, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(tw, h)}
	if err := write(cw); err != nil {
		return err
	}
	if cw.n != size {
		return fmt.Errorf("%s: wrote %d bytes, announced %d", name, cw.n, size)
	}
	m.Files[name] = File{Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Limits bound what Restore accepts; zero fields take the defaults.
type Limits struct {
	MaxDBSize   int64 // default 1 TiB
	MaxKeyFiles int   // default 20 million
}

const (
	maxKeyFileSize  = 64 << 10
	maxManifestSize = 1 << 30 // a manifest lists every key file
)

// Restore unpacks the archive read from r into dir, which must not exist or
// be empty, and returns its manifest. Every file is fsynced and checked
// against the manifest; on any error the files written are removed.
func Restore(ctx context.Context, r io.Reader, dir string, lim Limits) (Manifest, error) {
	lim = lim.withDefaults()
	if err := emptyDir(dir); err != nil {
		return Manifest{}, fmt.Errorf("restore backup: %w", err)
	}
	rs := &restorer{dir: dir, lim: lim, got: map[string]File{}}
	m, err := rs.run(ctx, r)
	if err != nil {
		rs.cleanup()
		return Manifest{}, fmt.Errorf("restore backup: %w", err)
	}
	return m, nil
}

// Check reads a whole archive without writing anything and checks it as
// Restore would: layout, limits and every digest against the manifest.
func Check(ctx context.Context, r io.Reader, lim Limits) (Manifest, error) {
	rs := &restorer{lim: lim.withDefaults(), got: map[string]File{}}
	m, err := rs.run(ctx, r)
	if err != nil {
		return Manifest{}, fmt.Errorf("check backup: %w", err)
	}
	return m, nil
}

func (l Limits) withDefaults() Limits {
	if l.MaxDBSize <= 0 {
		l.MaxDBSize = 1 << 40
	}
	if l.MaxKeyFiles <= 0 {
		l.MaxKeyFiles = 20_000_000
	}
	return l
}

func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%s: %w", dir, ErrNotEmpty)
	}
	return nil
}

type restorer struct {
	dir     string
	lim     Limits
	got     map[string]File
	written []string
	keys    int
}

func (rs *restorer) run(ctx context.Context, r io.Reader) (Manifest, error) {
	tr := tar.NewReader(r)
	var m *Manifest
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Manifest{}, fmt.Errorf("%w: %w", ErrBadArchive, err)
		}
		if err := ctx.Err(); err != nil {
			return Manifest{}, err
		}
		if m != nil {
			return Manifest{}, fmt.Errorf("%w: %q after the manifest", ErrBadArchive, hdr.Name)
		}
		if hdr.Name == ManifestFile {
			if m, err = readManifest(tr, hdr); err != nil {
				return Manifest{}, err
			}
			continue
		}
		if err := rs.file(tr, hdr); err != nil {
			return Manifest{}, err
		}
	}
	if m == nil {
		return Manifest{}, fmt.Errorf("%w: no manifest", ErrBadArchive)
	}
	if err := rs.check(*m); err != nil {
		return Manifest{}, err
	}
	if rs.dir == "" {
		return *m, nil
	}
	if err := syncDir(filepath.Join(rs.dir, KeysDir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Manifest{}, err
	}
	return *m, syncDir(rs.dir)
}

func readManifest(tr *tar.Reader, hdr *tar.Header) (*Manifest, error) {
	if hdr.Size > maxManifestSize || hdr.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("%w: manifest of %d bytes", ErrBadArchive, hdr.Size)
	}
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(tr, hdr.Size)).Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %w", ErrBadArchive, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrBadArchive, m.Format, Format)
	}
	return &m, nil
}

func (rs *restorer) file(tr *tar.Reader, hdr *tar.Header) error {
	name := hdr.Name
	switch {
	case hdr.Typeflag != tar.TypeReg:
		return fmt.Errorf("%w: %q is not a regular file", ErrBadArchive, name)
	case name != DBFile && !keyFile.MatchString(name):
		return fmt.Errorf("%w: unexpected file %q", ErrBadArchive, name)
	case rs.got[name] != File{}:
		return fmt.Errorf("%w: %q twice", ErrBadArchive, name)
	case name == DBFile && (hdr.Size < 0 || hdr.Size > rs.lim.MaxDBSize):
		return fmt.Errorf("%w: store of %d bytes", ErrBadArchive, hdr.Size)
	case name != DBFile && (hdr.Size < 0 || hdr.Size > maxKeyFileSize):
		return fmt.Errorf("%w: key file %q of %d bytes", ErrBadArchive, name, hdr.Size)
	}
	if name != DBFile {
		if rs.keys++; rs.keys > rs.lim.MaxKeyFiles {
			return fmt.Errorf("%w: more than %d key files", ErrBadArchive, rs.lim.MaxKeyFiles)
		}
	}
	if rs.dir == "" { // Check: read and hash only
		h := sha256.New()
		n, err := io.Copy(h, io.LimitReader(archiveReader{tr}, hdr.Size))
		if err == nil && n != hdr.Size {
			err = fmt.Errorf("%w: %q truncated", ErrBadArchive, name)
		}
		rs.got[name] = File{Size: n, SHA256: sum(h)}
		return err
	}
	if name != DBFile {
		if err := os.MkdirAll(filepath.Join(rs.dir, KeysDir), 0o700); err != nil {
			return err
		}
	}
	p := filepath.Join(rs.dir, filepath.FromSlash(name))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	rs.written = append(rs.written, p)
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(archiveReader{tr}, hdr.Size))
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("%w: %q truncated", ErrBadArchive, name)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	rs.got[name] = File{Size: n, SHA256: sum(h)}
	return err
}

// archiveReader marks errors reading the archive as ErrBadArchive.
type archiveReader struct{ r io.Reader }

func (a archiveReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", ErrBadArchive, err)
	}
	return n, err
}

func sum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

func (rs *restorer) check(m Manifest) error {
	if _, ok := m.Files[DBFile]; !ok {
		return fmt.Errorf("%w: no store in the manifest", ErrBadArchive)
	}
	if len(m.Files) != len(rs.got) {
		return fmt.Errorf("%w: manifest lists %d files, archive holds %d", ErrBadArchive, len(m.Files), len(rs.got))
	}
	for name, want := range m.Files {
		if got, ok := rs.got[name]; !ok || got != want {
			return fmt.Errorf("%w: %q does not match the manifest", ErrBadArchive, name)
		}
	}
	return nil
}

func (rs *restorer) cleanup() {
	for _, p := range rs.written {
		os.Remove(p)
	}
	os.Remove(filepath.Join(rs.dir, KeysDir))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
