package hsm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
)

var _ WrappedCustody = (*Software)(nil)

// softBlobMagic starts every software-wrapped blob; the version is its last
// byte.
var softBlobMagic = []byte("TQSW\x01")

// maxBlobLen bounds a wrapped blob (an RSA-4096 PKCS#8 key is under 2.5 KiB).
const maxBlobLen = 8 << 10

func wrappedAdditionalData(owner string, alg Algorithm) []byte {
	return []byte("thiqa-wrapped-key-v1\x00" + owner + "\x00" + string(alg))
}

// NewWrappedKey implements [WrappedCustody]. The blob is the PKCS#8 key
// sealed with AES-256-GCM under the KEK, with the owner and the algorithm as
// additional data:
//
//	"TQSW" 0x01 | len(alg) | alg | nonce (12) | ciphertext and tag
func (s *Software) NewWrappedKey(ctx context.Context, owner string, alg Algorithm) ([]byte, crypto.PublicKey, error) {
	if err := checkOwner(owner); err != nil {
		return nil, nil, err
	}
	priv, err := generate(s.rand, alg)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("new wrapped key: %w", err)
	}
	defer clear(der)
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, nil, fmt.Errorf("new wrapped key: %w", err)
	}
	blob := make([]byte, 0, len(softBlobMagic)+1+len(alg)+len(nonce)+len(der)+s.aead.Overhead())
	blob = append(blob, softBlobMagic...)
	blob = append(blob, byte(len(alg)))
	blob = append(blob, alg...)
	blob = append(blob, nonce...)
	blob = s.aead.Seal(blob, nonce, der, wrappedAdditionalData(owner, alg))
	return blob, priv.(crypto.Signer).Public(), nil
}

// SignWithWrapped implements [WrappedCustody].
func (s *Software) SignWithWrapped(ctx context.Context, owner string, blob []byte, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	if err := CheckWrappedRequest(owner, digests, opts); err != nil {
		return nil, err
	}
	alg, nonce, ct, err := parseSoftBlob(blob, s.aead.NonceSize())
	if err != nil {
		return nil, err
	}
	der, err := s.aead.Open(nil, nonce, ct, wrappedAdditionalData(owner, alg))
	if err != nil {
		return nil, fmt.Errorf("sign with wrapped key: %w", ErrWrongOwner)
	}
	defer clear(der)
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("sign with wrapped key: %w: %v", ErrBadBlob, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok || algorithmOf(signer.Public()) != alg {
		return nil, fmt.Errorf("sign with wrapped key: %w: key is not %s", ErrBadBlob, alg)
	}
	sigs := make([][]byte, len(digests))
	for i, d := range digests {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sign with wrapped key: %w", err)
		}
		if sigs[i], err = signer.Sign(s.rand, d, opts); err != nil {
			return nil, fmt.Errorf("sign with wrapped key: digest %d: %w", i, err)
		}
	}
	return sigs, nil
}

// parseSoftBlob splits a software-wrapped blob into its parts.
func parseSoftBlob(blob []byte, nonceSize int) (alg Algorithm, nonce, ct []byte, err error) {
	if len(blob) > maxBlobLen || !bytes.HasPrefix(blob, softBlobMagic) {
		return "", nil, nil, errorf(ErrBadBlob, "not a software-wrapped key")
	}
	rest := blob[len(softBlobMagic):]
	if len(rest) < 1 || len(rest) < 1+int(rest[0])+nonceSize {
		return "", nil, nil, errorf(ErrBadBlob, "truncated")
	}
	n := int(rest[0])
	alg = Algorithm(rest[1 : 1+n])
	if _, err := generateCheck(alg); err != nil {
		return "", nil, nil, errorf(ErrBadBlob, "algorithm %q", string(alg))
	}
	rest = rest[1+n:]
	return alg, rest[:nonceSize], rest[nonceSize:], nil
}

// generateCheck reports whether alg is one the backends generate.
func generateCheck(alg Algorithm) (Algorithm, error) {
	switch alg {
	case ECDSAP256, ECDSAP384, RSA2048, RSA3072, RSA4096:
		return alg, nil
	}
	return "", errorf(ErrBadAlgorithm, "%q", string(alg))
}
