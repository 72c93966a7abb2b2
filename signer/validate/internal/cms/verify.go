package cms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSAPSS    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidECPublic  = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidEd25519   = asn1.ObjectIdentifier{1, 3, 101, 112}
	sigAlgHashes = []struct {
		oid  asn1.ObjectIdentifier
		hash crypto.Hash
		ec   bool
	}{
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}, crypto.SHA1, false},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 14}, crypto.SHA224, false},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, crypto.SHA256, false},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}, crypto.SHA384, false},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}, crypto.SHA512, false},
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}, crypto.SHA1, true},
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 1}, crypto.SHA224, true},
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, crypto.SHA256, true},
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, crypto.SHA384, true},
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, crypto.SHA512, true},
	}
)

// SignedBytes returns what si's signature covers: the signed attributes
// when present, else content.
func (si *SignerInfo) SignedBytes(content []byte) []byte {
	if si.SignedAttrsDER != nil {
		return si.SignedAttrsDER
	}
	return content
}

// Algorithm describes a signature algorithm, such as "ECDSA-SHA256".
func (si *SignerInfo) Algorithm() string {
	h, _ := HashFromOID(si.DigestAlg)
	switch {
	case si.SigAlg.Equal(oidRSAPSS):
		return "RSASSA-PSS"
	case si.SigAlg.Equal(oidEd25519):
		return "Ed25519"
	case si.SigAlg.Equal(oidRSA):
		return "RSA-" + hashName(h)
	case si.SigAlg.Equal(oidECPublic):
		return "ECDSA-" + hashName(h)
	}
	for _, a := range sigAlgHashes {
		if a.oid.Equal(si.SigAlg) {
			if a.ec {
				return "ECDSA-" + hashName(a.hash)
			}
			return "RSA-" + hashName(a.hash)
		}
	}
	return si.SigAlg.String()
}

func hashName(h crypto.Hash) string {
	if h == 0 {
		return "unknown"
	}
	return h.String()
}

// VerifySignature checks si's signature value with pub over signed (see
// [SignerInfo.SignedBytes]).
func (si *SignerInfo) VerifySignature(pub crypto.PublicKey, signed []byte) error {
	dh, ok := HashFromOID(si.DigestAlg)
	if !ok {
		return fmt.Errorf("%w: digest algorithm %v", ErrAlgorithm, si.DigestAlg)
	}
	h := dh
	pss := false
	switch {
	case si.SigAlg.Equal(oidRSA), si.SigAlg.Equal(oidECPublic), si.SigAlg.Equal(oidEd25519):
	case si.SigAlg.Equal(oidRSAPSS):
		ph, err := pssHash(si.SigAlgParams)
		if err != nil {
			return err
		}
		h, pss = ph, true
	default:
		found := false
		for _, a := range sigAlgHashes {
			if a.oid.Equal(si.SigAlg) {
				h, found = a.hash, true
			}
		}
		if !found {
			return fmt.Errorf("%w: signature algorithm %v", ErrAlgorithm, si.SigAlg)
		}
	}
	return verify(pub, h, pss, signed, si.Signature)
}

func verify(pub crypto.PublicKey, h crypto.Hash, pss bool, signed, sig []byte) error {
	if k, ok := pub.(ed25519.PublicKey); ok {
		if !ed25519.Verify(k, signed, sig) {
			return ErrSignature
		}
		return nil
	}
	if !h.Available() {
		return fmt.Errorf("%w: hash %v", ErrAlgorithm, h)
	}
	hh := h.New()
	hh.Write(signed)
	return verifyDigest(pub, h, pss, hh.Sum(nil), sig)
}

// VerifyDigest checks si's signature value over a precomputed digest (a
// SignerInfo without signed attributes, whose digest the caller computed
// by streaming the content). The hash must be the one si names.
func (si *SignerInfo) VerifyDigest(pub crypto.PublicKey, digest []byte) error {
	h, ok := HashFromOID(si.DigestAlg)
	if !ok {
		return fmt.Errorf("%w: digest algorithm %v", ErrAlgorithm, si.DigestAlg)
	}
	pss := false
	if si.SigAlg.Equal(oidRSAPSS) {
		ph, err := pssHash(si.SigAlgParams)
		if err != nil {
			return err
		}
		if ph != h {
			return fmt.Errorf("%w: PSS hash differs from the digest algorithm", ErrAlgorithm)
		}
		pss = true
	}
	if _, ok := pub.(ed25519.PublicKey); ok {
		return fmt.Errorf("%w: Ed25519 over a precomputed digest", ErrAlgorithm)
	}
	return verifyDigest(pub, h, pss, digest, si.Signature)
}

func verifyDigest(pub crypto.PublicKey, h crypto.Hash, pss bool, d, sig []byte) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		var err error
		if pss {
			err = rsa.VerifyPSS(k, h, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		} else {
			err = rsa.VerifyPKCS1v15(k, h, d, sig)
		}
		if err != nil {
			return ErrSignature
		}
		return nil
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, d, sig) {
			return ErrSignature
		}
		return nil
	}
	return fmt.Errorf("%w: public key %T", ErrAlgorithm, pub)
}

// pssHash reads the hash of RSASSA-PSS-params (default SHA-1).
func pssHash(params []byte) (crypto.Hash, error) {
	s := cryptobyte.String(params)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return 0, fmt.Errorf("%w: RSASSA-PSS parameters", ErrFormat)
	}
	if !seq.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return crypto.SHA1, nil
	}
	var h0, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !seq.ReadASN1(&h0, cbasn1.Tag(0).Constructed().ContextSpecific()) || !h0.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return 0, fmt.Errorf("%w: RSASSA-PSS hash", ErrFormat)
	}
	h, ok := HashFromOID(oid)
	if !ok {
		return 0, fmt.Errorf("%w: PSS hash %v", ErrAlgorithm, oid)
	}
	return h, nil
}

// CheckCertSignature checks that child was signed by parent's key,
// including SHA-1 signatures that crypto/x509 refuses (old corpora).
func CheckCertSignature(child, parent *x509.Certificate) error {
	err := child.CheckSignatureFrom(parent)
	if err == nil {
		return nil
	}
	if child.SignatureAlgorithm != x509.SHA1WithRSA && child.SignatureAlgorithm != x509.ECDSAWithSHA1 {
		return err
	}
	if string(child.RawIssuer) != string(parent.RawSubject) {
		return err
	}
	return verify(parent.PublicKey, crypto.SHA1, false, child.RawTBSCertificate, child.Signature)
}
