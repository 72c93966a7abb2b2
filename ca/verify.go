package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"math/big"

	"github.com/cloudflare/circl/ecc/p384"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// verifyECDSA reports whether signature is a valid ASN.1 ECDSA signature
// of digest under pub. The CA checks each signature of its own keys with
// it before a certificate leaves, since a faulty key store must not
// produce one. The digest is the one the key signed, so nothing is parsed
// or hashed again.
//
// P-384, the curve of Thiqa's CAs, goes through [verifyP384]; other curves
// through crypto/ecdsa.
func verifyECDSA(pub crypto.PublicKey, digest, signature []byte) bool {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return false
	}
	if k.Curve == elliptic.P384() {
		return verifyP384(k, digest, signature)
	}
	return ecdsa.VerifyASN1(k, digest, signature)
}

// verifyP384 is ECDSA verification (SEC 1 v2, section 4.1.4) on P-384
// with the double-scalar multiplication u1·G + u2·Q of
// github.com/cloudflare/circl/ecc/p384, which has assembly field
// arithmetic on amd64 and arm64 (elsewhere it falls back to
// crypto/elliptic) and runs in variable time. crypto/ecdsa's P-384 is generic Go
// and constant-time, and its verification was the largest single cost of
// an issuance; variable time is sound here because every input (the CA's
// public key, the digest of a certificate about to be published, the
// signature) is public. FuzzVerifyP384 and TestVerifyP384 hold it to
// crypto/ecdsa's answers.
func verifyP384(pub *ecdsa.PublicKey, digest, signature []byte) bool {
	point, err := pub.Bytes()
	if err != nil || len(point) != 97 {
		return false
	}
	qx := new(big.Int).SetBytes(point[1:49])
	qy := new(big.Int).SetBytes(point[49:])
	var r, s big.Int
	in := cryptobyte.String(signature)
	var inner cryptobyte.String
	if !in.ReadASN1(&inner, cbasn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() {
		return false
	}
	n := elliptic.P384().Params().N
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(n) >= 0 || s.Cmp(n) >= 0 {
		return false
	}
	if len(digest) > 48 { // the leftmost bits of the hash, as many as n has (384)
		digest = digest[:48]
	}
	e := new(big.Int).SetBytes(digest)
	w := new(big.Int).ModInverse(&s, n)
	u1 := e.Mul(e, w)
	u1.Mod(u1, n)
	u2 := new(big.Int).Mul(&r, w)
	u2.Mod(u2, n)
	if u1.Sign() == 0 {
		// circl's scalars must be positive; a digest that is 0 mod n is a
		// case no real hash reaches, left to crypto/ecdsa.
		return ecdsa.VerifyASN1(pub, digest, signature)
	}
	c := p384.P384()
	x, y := c.CombinedMult(qx, qy, u1.Bytes(), u2.Bytes())
	if c.IsAtInfinity(x, y) {
		return false
	}
	return x.Mod(x, n).Cmp(&r) == 0
}
