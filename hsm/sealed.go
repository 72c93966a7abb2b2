package hsm

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// Sealer encrypts small secrets that the rest of Thiqa must keep but must
// not store in clear (an officer's TOTP secret), under a data-encryption key
// that custody derives from its key-encryption key and the owner. A sealed
// value is bound to its owner: opened with another owner it is refused with
// [ErrWrongOwner]. Implementations are safe for concurrent use.
type Sealer interface {
	// Seal encrypts plaintext (at most [MaxSealedLen] bytes) for owner.
	Seal(ctx context.Context, owner string, plaintext []byte) ([]byte, error)
	// Open decrypts what Seal returned for the same owner.
	Open(ctx context.Context, owner string, sealed []byte) ([]byte, error)
}

// MaxSealedLen bounds the plaintext of [Sealer.Seal].
const MaxSealedLen = 4 << 10

// ErrBadSealed means a sealed value is malformed, of an unknown version, or
// was sealed under a key-encryption key that custody no longer holds.
var ErrBadSealed = errors.New("hsm: malformed sealed value")

// SealedAdditionalData is what a sealed value authenticates besides its
// ciphertext: its header and its owner.
func SealedAdditionalData(owner string, header []byte) []byte {
	return append([]byte("thiqa-sealed-data-v1\x00"+owner+"\x00"), header...)
}

// SealWithKey seals plaintext under the 32-byte data-encryption key dek with
// AES-256-GCM and returns header | nonce (12) | ciphertext and tag. It is
// the common half of the backends' [Sealer] implementations.
func SealWithKey(rand io.Reader, dek []byte, owner string, header, plaintext []byte) ([]byte, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	if len(plaintext) > MaxSealedLen {
		return nil, errorf(ErrBadSealed, "plaintext of %d bytes, at most %d", len(plaintext), MaxSealedLen)
	}
	aead, err := gcm(dek)
	if err != nil {
		return nil, err
	}
	out := append([]byte{}, header...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, SealedAdditionalData(owner, header)), nil
}

// OpenWithKey opens what [SealWithKey] returned; header is the prefix the
// caller has already parsed off sealed.
func OpenWithKey(dek []byte, owner string, header, sealed []byte) ([]byte, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	aead, err := gcm(dek)
	if err != nil {
		return nil, err
	}
	rest := sealed[len(header):]
	if len(rest) < aead.NonceSize()+aead.Overhead() || len(rest) > MaxSealedLen+aead.NonceSize()+aead.Overhead() {
		return nil, errorf(ErrBadSealed, "length %d", len(sealed))
	}
	pt, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], SealedAdditionalData(owner, header))
	if err != nil {
		return nil, fmt.Errorf("open sealed value: %w", ErrWrongOwner)
	}
	return pt, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return cipher.NewGCM(block)
}

// softSealedMagic starts every value sealed by the software backend.
var softSealedMagic = []byte("TQSD\x01")

var _ Sealer = (*Software)(nil)

// dataKey derives the software backend's data-encryption key of owner from
// the sealing key: HMAC-SHA-256(sealKey, owner).
func (s *Software) dataKey(owner string) []byte {
	m := hmac.New(sha256.New, s.sealKey)
	m.Write([]byte("thiqa-data-key-v1\x00" + owner))
	return m.Sum(nil)
}

// Seal implements [Sealer]: AES-256-GCM under a key derived from the KEK
// and owner, with the owner authenticated as additional data.
func (s *Software) Seal(ctx context.Context, owner string, plaintext []byte) ([]byte, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	dek := s.dataKey(owner)
	defer clear(dek)
	return SealWithKey(s.rand, dek, owner, softSealedMagic, plaintext)
}

// Open implements [Sealer].
func (s *Software) Open(ctx context.Context, owner string, sealed []byte) ([]byte, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	if len(sealed) < len(softSealedMagic) || string(sealed[:len(softSealedMagic)]) != string(softSealedMagic) {
		return nil, errorf(ErrBadSealed, "not sealed by the software backend")
	}
	dek := s.dataKey(owner)
	defer clear(dek)
	return OpenWithKey(dek, owner, softSealedMagic, sealed)
}

func deriveSealKey(kek []byte) []byte {
	m := hmac.New(sha256.New, kek)
	m.Write([]byte("thiqa-seal-key-v1"))
	return m.Sum(nil)
}
