// Package hsm is Thiqa's key custody: it holds the private keys that every
// signer in the project uses (certificate authorities, OCSP responders, the
// time-stamping unit, e-seals, citizens' signing keys) and lends them out only
// as [crypto.Signer] values named by a stable [KeyID].
//
// Two backends implement [Custody]: [Software], the embedded default, which
// keeps every private key encrypted at rest under a key-encryption key (KEK),
// and a PKCS#11 backend for hardware security modules. Callers depend on the
// [Custody] and [Key] interfaces only, so that a pilot on a laptop and a
// national deployment on an HSM run the same code.
//
// This package must not import any other Thiqa package: it sits at the bottom
// of the import graph, beside store.
package hsm

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"regexp"
)

// KeyID names a key in custody. It is stable for the key's whole life and is
// what the rest of Thiqa records instead of key material.
type KeyID string

var keyIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// Validate reports whether id is a well-formed key identifier: 1 to 128
// characters of lower-case letters, digits, '.', '_' and '-', starting with a
// letter or digit.
func (id KeyID) Validate() error {
	if !keyIDPattern.MatchString(string(id)) {
		return fmt.Errorf("%w: %q", ErrBadKeyID, string(id))
	}
	return nil
}

// Algorithm names a key type and size.
type Algorithm string

// Supported key algorithms.
const (
	ECDSAP256 Algorithm = "EC-P256"
	ECDSAP384 Algorithm = "EC-P384"
	RSA2048   Algorithm = "RSA-2048"
	RSA3072   Algorithm = "RSA-3072"
	RSA4096   Algorithm = "RSA-4096"
)

// Key is a private key held in custody. Its Sign method is the only way to use
// the private part; the key material itself is never exposed.
type Key interface {
	crypto.Signer
	// ID returns the key's stable identifier.
	ID() KeyID
	// Algorithm returns the key's type and size.
	Algorithm() Algorithm
}

// Custody creates and finds named keys. Implementations are safe for
// concurrent use.
type Custody interface {
	// GenerateKey creates a new key named id. It fails with ErrKeyExists when
	// the name is taken: keys are never overwritten.
	GenerateKey(ctx context.Context, id KeyID, alg Algorithm) (Key, error)
	// Key returns the key named id, or ErrKeyNotFound.
	Key(ctx context.Context, id KeyID) (Key, error)
	// Keys lists the identifiers of the keys held, in lexical order.
	Keys(ctx context.Context) ([]KeyID, error)
}

// Errors returned by key custody.
var (
	ErrKeyExists    = errors.New("hsm: key already exists")
	ErrKeyNotFound  = errors.New("hsm: key not found")
	ErrBadKeyID     = errors.New("hsm: malformed key identifier")
	ErrBadAlgorithm = errors.New("hsm: unsupported key algorithm")
	ErrBadKEK       = errors.New("hsm: key-encryption key is wrong or malformed")
)
