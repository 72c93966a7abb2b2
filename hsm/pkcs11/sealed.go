package pkcs11

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"

	"github.com/thiqa/thiqa/hsm"
)

var _ hsm.Sealer = (*Custody)(nil)

// sealedMagic starts every value sealed by this backend. A sealed value is
//
//	"TQPD" 0x01 | len(kek) | kek label | nonce (12) | ciphertext and tag
//
// under AES-256-GCM with a data-encryption key that the token derives as
// HMAC-SHA-256 with the KEK's binding key over "thiqa-data-key-v1" 0x00
// owner; the key exists outside the token only for one call.
var sealedMagic = []byte("TQPD\x01")

func (c *Custody) dataKey(ctx context.Context, kek, owner string) ([]byte, error) {
	var dek []byte
	err := c.do(ctx, func(s session) error {
		_, macH, err := s.kekHandles(kek)
		if err != nil {
			return err
		}
		dek, err = s.hmac(macH, []byte("thiqa-data-key-v1\x00"+owner))
		return err
	})
	return dek, err
}

// Seal implements [hsm.Sealer] under the newest key-encryption key.
func (c *Custody) Seal(ctx context.Context, owner string, plaintext []byte) ([]byte, error) {
	if err := hsm.CheckOwner(owner); err != nil {
		return nil, err
	}
	kek, err := c.currentKEK(ctx)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	dek, err := c.dataKey(ctx, kek, owner)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	defer clear(dek)
	header := append(append(append([]byte{}, sealedMagic...), byte(len(kek))), kek...)
	return hsm.SealWithKey(rand.Reader, dek, owner, header, plaintext)
}

// Open implements [hsm.Sealer] under the key-encryption key the value names.
func (c *Custody) Open(ctx context.Context, owner string, sealed []byte) ([]byte, error) {
	if err := hsm.CheckOwner(owner); err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(sealed, sealedMagic) || len(sealed) < len(sealedMagic)+1 ||
		len(sealed) < len(sealedMagic)+1+int(sealed[len(sealedMagic)]) {
		return nil, fmt.Errorf("%w: not sealed by the PKCS #11 backend", hsm.ErrBadSealed)
	}
	n := int(sealed[len(sealedMagic)])
	header := sealed[:len(sealedMagic)+1+n]
	kek := string(header[len(sealedMagic)+1:])
	if _, err := parseKEKLabel(kek, c.cfg.KEKLabel); err != nil {
		return nil, fmt.Errorf("%w: KEK label %q", hsm.ErrBadSealed, kek)
	}
	dek, err := c.dataKey(ctx, kek, owner)
	if err != nil {
		return nil, fmt.Errorf("open sealed value: %w", err)
	}
	defer clear(dek)
	return hsm.OpenWithKey(dek, owner, header, sealed)
}
