package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// sigSpec is how an issuer key signs: the hash of the TBS it signs.
type sigSpec struct {
	alg  x509.SignatureAlgorithm
	hash crypto.Hash
}

func (s sigSpec) digest(b []byte) []byte {
	h := s.hash.New()
	h.Write(b)
	return h.Sum(nil)
}

// signatureOf returns the signature algorithm of an ECDSA issuer key, the
// hash matched to the curve.
func signatureOf(pub crypto.PublicKey) (sigSpec, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return sigSpec{}, fmt.Errorf("issuer key type %T not supported", pub)
	}
	switch k.Curve {
	case elliptic.P256():
		return sigSpec{x509.ECDSAWithSHA256, crypto.SHA256}, nil
	case elliptic.P384():
		return sigSpec{x509.ECDSAWithSHA384, crypto.SHA384}, nil
	}
	return sigSpec{}, fmt.Errorf("issuer curve %s not supported", k.Curve.Params().Name)
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
