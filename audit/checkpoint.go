package audit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/thiqa/thiqa/store"
)

// sigTypeECDSA is the C2SP signed-note signature type of ECDSA P-256
// with SHA-256.
const sigTypeECDSA = 0x02

// maxNoteLen bounds a signed checkpoint read from outside.
const maxNoteLen = 16 << 10

// Checkpoint is a signed statement of the log's size and root hash.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
	Time   time.Time
	// Note is the signed note as published.
	Note []byte
}

// body is the checkpoint text that the note signs.
func (c Checkpoint) body() string {
	return fmt.Sprintf("%s\n%d\n%s\ntime %s\n", c.Origin, c.Size,
		base64.StdEncoding.EncodeToString(c.Root), c.Time.UTC().Format(time.RFC3339Nano))
}

// ParseCheckpoint parses a checkpoint body (the text of a note, without
// signatures).
func ParseCheckpoint(text string) (Checkpoint, error) {
	var c Checkpoint
	lines := strings.Split(text, "\n")
	if len(lines) != 5 || lines[4] != "" {
		return c, fmt.Errorf("%w: want 4 lines", ErrBadCheckpoint)
	}
	c.Origin = lines[0]
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return c, fmt.Errorf("%w: size %q", ErrBadCheckpoint, lines[1])
	}
	c.Size = size
	c.Root, err = base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(c.Root) != sha256.Size {
		return c, fmt.Errorf("%w: root hash %q", ErrBadCheckpoint, lines[2])
	}
	ts, ok := strings.CutPrefix(lines[3], "time ")
	if !ok {
		return c, fmt.Errorf("%w: no time line", ErrBadCheckpoint)
	}
	if c.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return c, fmt.Errorf("%w: time: %w", ErrBadCheckpoint, err)
	}
	if c.Origin == "" || c.body() != text {
		return c, fmt.Errorf("%w: not in canonical form", ErrBadCheckpoint)
	}
	return c, nil
}

// Verifier checks checkpoint signatures: the log's public key and name.
type Verifier struct {
	name string
	hash uint32
	pub  *ecdsa.PublicKey
}

var _ note.Verifier = (*Verifier)(nil)

func (v *Verifier) Name() string    { return v.name }
func (v *Verifier) KeyHash() uint32 { return v.hash }
func (v *Verifier) Verify(msg, sig []byte) bool {
	d := sha256.Sum256(msg)
	return ecdsa.VerifyASN1(v.pub, d[:], sig)
}

// Key is the C2SP verifier key text of v: name+keyid+base64(0x02 || SPKI).
func (v *Verifier) Key() string {
	spki, _ := x509.MarshalPKIXPublicKey(v.pub)
	return fmt.Sprintf("%s+%08x+%s", v.name, v.hash, base64.StdEncoding.EncodeToString(append([]byte{sigTypeECDSA}, spki...)))
}

// PublicKey returns the key that signs checkpoints.
func (v *Verifier) PublicKey() *ecdsa.PublicKey { return v.pub }

func newVerifier(name string, pub crypto.PublicKey) (*Verifier, error) {
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("checkpoint key must be ECDSA P-256")
	}
	if strings.ContainsAny(name, "+ \n") || name == "" {
		return nil, fmt.Errorf("bad log name %q", name)
	}
	spki, err := x509.MarshalPKIXPublicKey(ec)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(spki)
	return &Verifier{name: name, hash: binary.BigEndian.Uint32(h[:4]), pub: ec}, nil
}

// ParseVerifierKey parses a verifier key as [Verifier.Key] writes it.
func ParseVerifierKey(vkey string) (*Verifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || len(hash) != 8 || len(vkey) > 1024 {
		return nil, fmt.Errorf("parse verifier key: %w: malformed", ErrBadCheckpoint)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) < 2 || raw[0] != sigTypeECDSA {
		return nil, fmt.Errorf("parse verifier key: %w: not an ECDSA key", ErrBadCheckpoint)
	}
	pub, err := x509.ParsePKIXPublicKey(raw[1:])
	if err != nil {
		return nil, fmt.Errorf("parse verifier key: %w: %w", ErrBadCheckpoint, err)
	}
	v, err := newVerifier(name, pub)
	if err != nil {
		return nil, fmt.Errorf("parse verifier key: %w: %w", ErrBadCheckpoint, err)
	}
	if hex.EncodeToString(binary.BigEndian.AppendUint32(nil, v.hash)) != hash {
		return nil, fmt.Errorf("parse verifier key: %w: key id does not match the key", ErrBadCheckpoint)
	}
	return v, nil
}

// OpenCheckpoint checks a signed checkpoint's signature with v and parses
// it.
func OpenCheckpoint(signed []byte, v *Verifier) (Checkpoint, error) {
	if len(signed) > maxNoteLen {
		return Checkpoint{}, fmt.Errorf("open checkpoint: %w: %d bytes", ErrBadCheckpoint, len(signed))
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("open checkpoint: %w: %w", ErrBadCheckpoint, err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("open checkpoint: %w", err)
	}
	if c.Origin != v.name {
		return Checkpoint{}, fmt.Errorf("open checkpoint: %w: origin %q, want %q", ErrBadCheckpoint, c.Origin, v.name)
	}
	c.Note = bytes.Clone(signed)
	return c, nil
}

type noteSigner struct {
	*Verifier
	key  crypto.Signer
	rand io.Reader
}

func newNoteSigner(name string, key crypto.Signer, rand io.Reader) (*noteSigner, error) {
	v, err := newVerifier(name, key.Public())
	if err != nil {
		return nil, err
	}
	return &noteSigner{Verifier: v, key: key, rand: rand}, nil
}

func (s *noteSigner) Sign(msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	return s.key.Sign(s.rand, d[:], crypto.SHA256)
}

// Verifier returns the verifier of the log's checkpoints.
func (l *Log) Verifier() *Verifier { return l.signer.Verifier }

// Checkpoint signs and stores a checkpoint of the log's current head, unless
// the latest checkpoint already has that size; it returns the latest
// checkpoint either way.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	head, err := l.st.AuditHead(ctx)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	latest, err := l.Latest(ctx)
	switch {
	case err == nil && latest.Size >= head.Size:
		return latest, nil
	case err != nil && !errors.Is(err, ErrNoCheckpoint):
		return Checkpoint{}, err
	}
	root, err := headRoot(head)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	c := Checkpoint{Origin: l.opts.Origin, Size: head.Size, Root: root, Time: l.opts.Clock().UTC()}
	c.Note, err = note.Sign(&note.Note{Text: c.body()}, l.signer)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: sign: %w", err)
	}
	err = l.st.SaveAuditCheckpoint(ctx, store.AuditCheckpoint{Size: c.Size, Note: c.Note, CreatedAt: c.Time})
	if errors.Is(err, store.ErrDuplicate) || errors.Is(err, store.ErrConflict) {
		return l.Latest(ctx) // another replica signed first
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	return c, nil
}

func headRoot(head store.AuditHead) ([]byte, error) {
	if head.Size == 0 {
		return rfc6962Empty(), nil
	}
	r, err := rangeFactory.NewRange(0, head.Size, head.Frontier)
	if err != nil {
		return nil, fmt.Errorf("log head: %w", err)
	}
	return r.GetRootHash(nil)
}

// Latest returns the latest stored checkpoint, checked with the log's key;
// ErrNoCheckpoint before the first.
func (l *Log) Latest(ctx context.Context) (Checkpoint, error) {
	sc, err := l.st.LatestAuditCheckpoint(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return Checkpoint{}, ErrNoCheckpoint
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("latest checkpoint: %w", err)
	}
	return OpenCheckpoint(sc.Note, l.Verifier())
}

// Run signs a checkpoint every interval (when the log grew) and purges the
// details whose retention ended, until ctx ends. Failures are passed to
// onError when it is not nil and retried at the next tick.
func (l *Log) Run(ctx context.Context, every time.Duration, onError func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := l.Checkpoint(ctx); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		if _, err := l.PurgeDetails(ctx); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
