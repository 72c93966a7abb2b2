package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// sigSpec is how an issuer key signs: the hash of the TBS it signs, and
// the placeholder signature of the copy zlint reads.
type sigSpec struct {
	alg         x509.SignatureAlgorithm
	hash        crypto.Hash
	placeholder []byte
}

func (s sigSpec) digest(b []byte) []byte {
	h := s.hash.New()
	h.Write(b)
	return h.Sum(nil)
}

var (
	sigP256 = sync.OnceValue(func() sigSpec {
		return sigSpec{x509.ECDSAWithSHA256, crypto.SHA256, placeholderSignature(elliptic.P256())}
	})
	sigP384 = sync.OnceValue(func() sigSpec {
		return sigSpec{x509.ECDSAWithSHA384, crypto.SHA384, placeholderSignature(elliptic.P384())}
	})
)

// signatureOf returns the signature algorithm of an ECDSA issuer key, the
// hash matched to the curve.
func signatureOf(pub crypto.PublicKey) (sigSpec, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return sigSpec{}, fmt.Errorf("issuer key type %T not supported", pub)
	}
	switch k.Curve {
	case elliptic.P256():
		return sigP256(), nil
	case elliptic.P384():
		return sigP384(), nil
	}
	return sigSpec{}, fmt.Errorf("issuer curve %s not supported", k.Curve.Params().Name)
}

// placeholderSignature is the signatureValue of the certificate copies
// that zlint reads before the CA key signs: an ECDSA-Sig-Value whose r and
// s are both n-1, the group order less one. It is well-formed DER, in
// range, and exactly as long as the longest signature a key on curve c
// makes (72 bytes on P-256, 104 on P-384), so a lint that infers the
// issuer's curve from the signature's length (Mozilla's ECDSA signature
// encoding lint) sees the same curve as on the certificate the CA signs.
// No key of Thiqa made it, and the copy that carries it never leaves
// [Service.check].
func placeholderSignature(c elliptic.Curve) []byte {
	v := new(big.Int).Sub(c.Params().N, big.NewInt(1))
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(v)
		b.AddASN1BigInt(v)
	})
	return b.BytesOrPanic() // cannot fail: a SEQUENCE of two positive INTEGERs
}

// splitCertificate returns the raw TBSCertificate and signatureAlgorithm of
// a DER certificate.
func splitCertificate(der []byte) (tbs, sigAlg []byte, err error) {
	in := cryptobyte.String(der)
	var cert cryptobyte.String
	var t, a cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !in.Empty() ||
		!cert.ReadASN1Element(&t, cbasn1.SEQUENCE) || !cert.ReadASN1Element(&a, cbasn1.SEQUENCE) {
		return nil, nil, errors.New("malformed certificate")
	}
	return t, a, nil
}

// assembleCertificate builds Certificate ::= SEQUENCE { tbsCertificate,
// signatureAlgorithm, signatureValue BIT STRING }.
func assembleCertificate(tbs, sigAlg, signature []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(sigAlg)
		b.AddASN1BitString(signature)
	})
	return b.Bytes()
}
