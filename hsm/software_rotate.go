package hsm

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// SoftwareRotation moves the software backend from one key-encryption key
// to another: Old is the custody under the current KEK, New the custody
// under the next one, in another key directory. Every method leaves alone
// what New opens already, so a rotation stopped part way is resumed by
// running it again.
type SoftwareRotation struct {
	Old, New *Software
}

// CopyKeys re-seals every key of Old's directory under New's KEK into
// New's directory and returns how many it wrote (keys New holds already
// are checked and skipped).
func (r SoftwareRotation) CopyKeys(ctx context.Context) (int, error) {
	ids, err := r.Old.Keys(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if _, err := r.New.Key(ctx, id); err == nil {
			continue
		} else if !errors.Is(err, ErrKeyNotFound) {
			return n, fmt.Errorf("rotate KEK: key %s in the new directory: %w", id, err)
		}
		b, err := os.ReadFile(r.Old.path(id))
		if err != nil {
			return n, fmt.Errorf("rotate KEK: %w", err)
		}
		k, err := r.Old.open(id, b)
		if err != nil {
			return n, fmt.Errorf("rotate KEK: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k.signer)
		if err != nil {
			return n, fmt.Errorf("rotate KEK: key %s: %w", id, err)
		}
		sealed, err := r.New.seal(id, k.alg, der)
		if err != nil {
			return n, err
		}
		if err := writeNew(r.New.path(id), sealed); err != nil && !errors.Is(err, fs.ErrExist) {
			return n, fmt.Errorf("rotate KEK: key %s: %w", id, err)
		}
		n++
	}
	return n, nil
}

// RewrapKey re-wraps a citizen's blob bound to owner from Old's KEK to
// New's; a blob New opens is returned unchanged with moved false.
func (r SoftwareRotation) RewrapKey(ctx context.Context, owner string, blob []byte) ([]byte, bool, error) {
	if err := checkOwner(owner); err != nil {
		return nil, false, err
	}
	alg, nonce, ct, err := parseSoftBlob(blob, r.Old.aead.NonceSize())
	if err != nil {
		return nil, false, err
	}
	ad := wrappedAdditionalData(owner, alg)
	if der, err := r.New.aead.Open(nil, nonce, ct, ad); err == nil {
		clear(der)
		return blob, false, nil
	}
	der, err := r.Old.aead.Open(nil, nonce, ct, ad)
	if err != nil {
		return nil, false, fmt.Errorf("rewrap: %w", ErrWrongOwner)
	}
	defer clear(der)
	fresh := make([]byte, r.New.aead.NonceSize())
	if _, err := io.ReadFull(r.New.rand, fresh); err != nil {
		return nil, false, fmt.Errorf("rewrap: %w", err)
	}
	out := make([]byte, 0, len(blob))
	out = append(out, softBlobMagic...)
	out = append(out, byte(len(alg)))
	out = append(out, alg...)
	out = append(out, fresh...)
	return r.New.aead.Seal(out, fresh, der, ad), true, nil
}

// ResealValue re-seals a value sealed for owner ([Software.Seal]) from
// Old's KEK to New's; a value New opens is returned unchanged with moved
// false.
func (r SoftwareRotation) ResealValue(ctx context.Context, owner string, sealed []byte) ([]byte, bool, error) {
	if _, err := r.New.Open(ctx, owner, sealed); err == nil {
		return sealed, false, nil
	}
	plain, err := r.Old.Open(ctx, owner, sealed)
	if err != nil {
		return nil, false, fmt.Errorf("reseal: %w", err)
	}
	defer clear(plain)
	out, err := r.New.Seal(ctx, owner, plain)
	if err != nil {
		return nil, false, fmt.Errorf("reseal: %w", err)
	}
	return out, true, nil
}
