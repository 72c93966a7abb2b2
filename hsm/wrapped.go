package hsm

import (
	"context"
	"crypto"
	"errors"
	"fmt"
)

// WrappedCustody holds per-citizen keys as blobs wrapped by a key that never
// leaves custody. Millions of citizens cannot each have a key resident in an
// HSM, so the caller stores the blob (with the owner's identifier) and hands
// it back for each authorised signing; the private key exists in clear only
// inside the custody, for the duration of one call.
//
// A blob is bound to its owner: presented with another owner it is refused
// with [ErrWrongOwner]. Implementations are safe for concurrent use.
type WrappedCustody interface {
	// NewWrappedKey generates a key for owner inside custody and returns
	// it wrapped, with its public key. The clear private key is destroyed
	// before NewWrappedKey returns.
	NewWrappedKey(ctx context.Context, owner string, alg Algorithm) (blob []byte, pub crypto.PublicKey, err error)
	// SignWithWrapped unwraps blob (refusing it unless it is bound to
	// owner), signs each digest with opts, and destroys the unwrapped key.
	// It returns one signature per digest, in order, or no signature at
	// all.
	SignWithWrapped(ctx context.Context, owner string, blob []byte, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error)
}

// MaxDigestsPerSigning bounds the digests one SignWithWrapped call signs.
const MaxDigestsPerSigning = 64

// MaxOwnerLen bounds the length of an owner identifier.
const MaxOwnerLen = 256

// Errors returned by wrapped custody.
var (
	// ErrWrongOwner means a wrapped blob is not bound to the owner it was
	// presented with (moved to another citizen's record, or tampered).
	ErrWrongOwner = errors.New("hsm: wrapped key is not bound to this owner")
	// ErrBadBlob means a wrapped blob is malformed or of an unknown
	// version.
	ErrBadBlob = errors.New("hsm: malformed wrapped key")
	// ErrBadOwner means an owner identifier is empty, too long or holds a
	// NUL byte.
	ErrBadOwner = errors.New("hsm: malformed owner identifier")
	// ErrBadDigests means SignWithWrapped was given no digest, too many, or
	// one whose length does not match opts.HashFunc().
	ErrBadDigests = errors.New("hsm: bad digests to sign")
)

// CheckWrappedRequest validates the arguments common to every
// [WrappedCustody] implementation: a well-formed owner and 1 to
// [MaxDigestsPerSigning] digests, each as long as opts.HashFunc() says.
func CheckWrappedRequest(owner string, digests [][]byte, opts crypto.SignerOpts) error {
	if err := checkOwner(owner); err != nil {
		return err
	}
	if len(digests) == 0 || len(digests) > MaxDigestsPerSigning {
		return errorf(ErrBadDigests, "%d digests, want 1 to %d", len(digests), MaxDigestsPerSigning)
	}
	if opts == nil || !opts.HashFunc().Available() {
		return errorf(ErrBadDigests, "no hash function in signer options")
	}
	for i, d := range digests {
		if len(d) != opts.HashFunc().Size() {
			return errorf(ErrBadDigests, "digest %d is %d bytes, want %d", i, len(d), opts.HashFunc().Size())
		}
	}
	return nil
}

func checkOwner(owner string) error {
	if owner == "" || len(owner) > MaxOwnerLen {
		return errorf(ErrBadOwner, "length %d", len(owner))
	}
	for i := 0; i < len(owner); i++ {
		if owner[i] == 0 {
			return errorf(ErrBadOwner, "NUL byte")
		}
	}
	return nil
}

// CheckOwner reports whether owner is a well-formed owner identifier: 1 to
// [MaxOwnerLen] bytes without NUL.
func CheckOwner(owner string) error { return checkOwner(owner) }

// errorf wraps the sentinel err with a formatted detail.
func errorf(err error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{err}, args...)...)
}
