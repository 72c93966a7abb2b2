package hsm

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// KEKSize is the size in bytes of the software backend's key-encryption key
// (AES-256).
const KEKSize = 32

// Software is the embedded key-custody backend. Each key is a file in a
// directory, holding the PKCS#8 private key sealed with AES-256-GCM under the
// KEK; the key's identifier and algorithm are authenticated as additional
// data, so a sealed key renamed or copied under another identifier fails to
// open. No private key is ever written in clear.
type Software struct {
	dir  string
	aead cipher.AEAD
	rand io.Reader
	// sealKey derives the data-encryption keys of [Software.Seal]:
	// HMAC-SHA-256(KEK, "thiqa-seal-key-v1"), so that no value sealed for
	// a caller can be confused with a sealed private key.
	sealKey []byte

	mu   sync.Mutex
	keys map[KeyID]*softKey
}

var _ Custody = (*Software)(nil)

// SoftwareOptions are optional settings of [OpenSoftware]; the zero value is
// safe.
type SoftwareOptions struct {
	// Rand is the source of randomness for keys and nonces (default
	// crypto/rand.Reader).
	Rand io.Reader
}

// OpenSoftware opens (creating it if needed, mode 0700) the key directory dir
// with the key-encryption key kek, which must be KEKSize bytes.
func OpenSoftware(dir string, kek []byte, opts *SoftwareOptions) (*Software, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("%w: want %d bytes, have %d", ErrBadKEK, KEKSize, len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("open software custody: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("open software custody: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open software custody: %w", err)
	}
	s := &Software{dir: dir, aead: aead, rand: rand.Reader, keys: map[KeyID]*softKey{}, sealKey: deriveSealKey(kek)}
	if opts != nil && opts.Rand != nil {
		s.rand = opts.Rand
	}
	return s, nil
}

// sealedKey is the on-disk form of a key.
type sealedKey struct {
	Version    int       `json:"version"`
	ID         KeyID     `json:"id"`
	Algorithm  Algorithm `json:"algorithm"`
	Nonce      []byte    `json:"nonce"`
	Ciphertext []byte    `json:"ciphertext"`
}

func additionalData(id KeyID, alg Algorithm) []byte {
	return []byte("thiqa-sealed-key-v1\x00" + string(id) + "\x00" + string(alg))
}

func (s *Software) path(id KeyID) string { return filepath.Join(s.dir, string(id)+".key") }

// GenerateKey implements [Custody].
func (s *Software) GenerateKey(ctx context.Context, id KeyID, alg Algorithm) (Key, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	priv, err := generate(s.rand, alg)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("generate key %s: %w", id, err)
	}
	sealed, err := s.seal(id, alg, der)
	if err != nil {
		return nil, err
	}
	// No lock around the write: linking the sealed file into place fails
	// if the name is taken, so concurrent generations of one identifier
	// cannot both succeed, and generations of different keys do their
	// fsyncs in parallel.
	if err := writeNew(s.path(id), sealed); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrKeyExists, id)
		}
		return nil, fmt.Errorf("generate key %s: %w", id, err)
	}
	k := &softKey{id: id, alg: alg, signer: priv.(crypto.Signer)}
	s.mu.Lock()
	s.keys[id] = k
	s.mu.Unlock()
	return k, nil
}

// Key implements [Custody].
func (s *Software) Key(ctx context.Context, id KeyID) (Key, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[id]; ok {
		return k, nil
	}
	b, err := os.ReadFile(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrKeyNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", id, err)
	}
	k, err := s.open(id, b)
	if err != nil {
		return nil, err
	}
	s.keys[id] = k
	return k, nil
}

// Keys implements [Custody].
func (s *Software) Keys(ctx context.Context) ([]KeyID, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	var ids []KeyID
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".key")
		if ok && e.Type().IsRegular() && KeyID(name).Validate() == nil {
			ids = append(ids, KeyID(name))
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

func (s *Software) seal(id KeyID, alg Algorithm, der []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("seal key %s: %w", id, err)
	}
	ct := s.aead.Seal(nil, nonce, der, additionalData(id, alg))
	clear(der)
	return json.Marshal(sealedKey{Version: 1, ID: id, Algorithm: alg, Nonce: nonce, Ciphertext: ct})
}

func (s *Software) open(id KeyID, b []byte) (*softKey, error) {
	var sk sealedKey
	if err := json.Unmarshal(b, &sk); err != nil {
		return nil, fmt.Errorf("open key %s: %w", id, err)
	}
	if sk.Version != 1 || sk.ID != id || len(sk.Nonce) != s.aead.NonceSize() {
		return nil, fmt.Errorf("open key %s: sealed key is not for this identifier or version", id)
	}
	der, err := s.aead.Open(nil, sk.Nonce, sk.Ciphertext, additionalData(id, sk.Algorithm))
	if err != nil {
		return nil, fmt.Errorf("open key %s: %w", id, ErrBadKEK)
	}
	defer clear(der)
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("open key %s: %w", id, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok || algorithmOf(signer.Public()) != sk.Algorithm {
		return nil, fmt.Errorf("open key %s: key does not match its recorded algorithm %s", id, sk.Algorithm)
	}
	return &softKey{id: id, alg: sk.Algorithm, signer: signer}, nil
}

type softKey struct {
	id     KeyID
	alg    Algorithm
	signer crypto.Signer
}

func (k *softKey) ID() KeyID                { return k.id }
func (k *softKey) Algorithm() Algorithm     { return k.alg }
func (k *softKey) Public() crypto.PublicKey { return k.signer.Public() }
func (k *softKey) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.signer.Sign(r, digest, opts)
}

func generate(r io.Reader, alg Algorithm) (crypto.PrivateKey, error) {
	switch alg {
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), r)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), r)
	case RSA2048:
		return rsa.GenerateKey(r, 2048)
	case RSA3072:
		return rsa.GenerateKey(r, 3072)
	case RSA4096:
		return rsa.GenerateKey(r, 4096)
	}
	return nil, fmt.Errorf("%w: %q", ErrBadAlgorithm, string(alg))
}

// algorithmOf returns the Algorithm of a public key, or "" if it is none of
// the supported ones.
func algorithmOf(pub crypto.PublicKey) Algorithm {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECDSAP256
		case elliptic.P384():
			return ECDSAP384
		}
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return RSA2048
		case 3072:
			return RSA3072
		case 4096:
			return RSA4096
		}
	}
	return ""
}

// writeNew writes b to a new file at path durably: it fails with fs.ErrExist
// if path exists, writes a temporary file, syncs it, links it into place and
// syncs the directory.
func writeNew(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
