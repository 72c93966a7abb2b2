package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"sort"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidData              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidAttrContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningCertV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidAttrTimeStamp     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidSHA256            = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384            = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512            = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidECDSAWithSHA256   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSHA256WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSAPSS            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
)

// cmsSigner encodes CAdES detached SignedData for one signer certificate.
// The parts that do not depend on the document (certificates, signer
// identifier, algorithm identifiers, signing-certificate-v2) are encoded
// once.
type cmsSigner struct {
	hash        crypto.Hash
	pss         bool
	cert        *x509.Certificate
	maxSigLen   int
	digestAlg   []byte // AlgorithmIdentifier DER
	sigAlg      []byte // AlgorithmIdentifier DER
	certs       []byte // concatenated certificate DER
	sid         []byte // IssuerAndSerialNumber DER
	attrCT      []byte // content-type attribute DER
	attrSignCrt []byte // signing-certificate-v2 attribute DER
}

func hashOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA256:
		return oidSHA256
	case crypto.SHA384:
		return oidSHA384
	case crypto.SHA512:
		return oidSHA512
	}
	return nil
}

func build(f cryptobyte.BuilderContinuation) []byte {
	var b cryptobyte.Builder
	f(&b)
	out, err := b.Bytes()
	if err != nil {
		// Only reachable with an encoding bug: every input here is
		// already-valid DER or fixed structure.
		panic("signer: cms encoding: " + err.Error())
	}
	return out
}

func algID(oid asn1.ObjectIdentifier, params []byte) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			if params != nil {
				b.AddBytes(params)
			}
		})
	})
}

var asn1Null = []byte{0x05, 0x00}

func newCMSSigner(cert *x509.Certificate, chain []*x509.Certificate, h crypto.Hash, pss bool) (*cmsSigner, error) {
	if hashOID(h) == nil {
		return nil, fmt.Errorf("%w: hash %v (want SHA-256, SHA-384 or SHA-512)", ErrAlgorithm, h)
	}
	c := &cmsSigner{hash: h, pss: pss, cert: cert, digestAlg: algID(hashOID(h), nil)}
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if pss {
			return nil, fmt.Errorf("%w: PSS with an ECDSA key", ErrAlgorithm)
		}
		n := (pub.Curve.Params().BitSize + 7) / 8
		switch pub.Curve.Params().BitSize {
		case 256, 384:
		default:
			return nil, fmt.Errorf("%w: ECDSA curve %s (want P-256 or P-384)", ErrAlgorithm, pub.Curve.Params().Name)
		}
		c.maxSigLen = 2 + 2*(2+n+1) + 1
		c.sigAlg = algID(map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidECDSAWithSHA256, crypto.SHA384: oidECDSAWithSHA384, crypto.SHA512: oidECDSAWithSHA512}[h], nil)
	case *rsa.PublicKey:
		c.maxSigLen = pub.Size()
		if pub.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: RSA key of %d bits (want 2048 or more)", ErrAlgorithm, pub.N.BitLen())
		}
		if pss {
			c.sigAlg = algID(oidRSAPSS, pssParams(h))
		} else {
			c.sigAlg = algID(map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidSHA256WithRSA, crypto.SHA384: oidSHA384WithRSA, crypto.SHA512: oidSHA512WithRSA}[h], asn1Null)
		}
	default:
		return nil, fmt.Errorf("%w: public key type %T", ErrAlgorithm, cert.PublicKey)
	}
	for _, x := range append([]*x509.Certificate{cert}, chain...) {
		c.certs = append(c.certs, x.Raw...)
	}
	c.sid = build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(cert.RawIssuer)
			b.AddASN1BigInt(cert.SerialNumber)
		})
	})
	c.attrCT = attribute(oidAttrContentType, build(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidData) }))
	certHash := sha256.Sum256(cert.Raw)
	c.attrSignCrt = attribute(oidAttrSigningCertV2, build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2, hashAlgorithm DEFAULT sha256 omitted
					b.AddASN1OctetString(certHash[:])
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
							b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddBytes(cert.RawIssuer)
							})
						})
						b.AddASN1BigInt(cert.SerialNumber)
					})
				})
			})
		})
	}))
	return c, nil
}

func pssParams(h crypto.Hash) []byte {
	hashAlg := algID(hashOID(h), nil)
	return build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(hashAlg) })
			b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddBytes(algID(oidMGF1, hashAlg))
			})
			b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(h.Size())) })
		})
	})
}

// attribute encodes Attribute ::= SEQUENCE { type, SET { value } }.
func attribute(oid asn1.ObjectIdentifier, value []byte) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(value) })
		})
	})
}

// setOf encodes a DER SET OF with its elements sorted, under tag.
func setOf(tag cbasn1.Tag, elems [][]byte) []byte {
	s := append([][]byte(nil), elems...)
	sort.Slice(s, func(i, j int) bool { return string(s[i]) < string(s[j]) })
	return build(func(b *cryptobyte.Builder) {
		b.AddASN1(tag, func(b *cryptobyte.Builder) {
			for _, e := range s {
				b.AddBytes(e)
			}
		})
	})
}

// signedAttributes returns the DER SET of signed attributes (tag SET, as
// it is hashed and signed) for the document digest.
func (c *cmsSigner) signedAttributes(messageDigest []byte) []byte {
	md := attribute(oidAttrMessageDigest, build(func(b *cryptobyte.Builder) { b.AddASN1OctetString(messageDigest) }))
	return setOf(cbasn1.SET, [][]byte{c.attrCT, md, c.attrSignCrt})
}

// signerOpts returns the crypto.SignerOpts to sign the signed attributes.
func (c *cmsSigner) signerOpts() crypto.SignerOpts {
	if c.pss {
		return &rsa.PSSOptions{SaltLength: c.hash.Size(), Hash: c.hash}
	}
	return c.hash
}

// encode returns the DER ContentInfo. unsigned holds unsigned attributes.
func (c *cmsSigner) encode(signedAttrs, sig []byte, unsigned [][]byte) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
			b.AddASN1ObjectIdentifier(oidSignedData)
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
					b.AddASN1Int64(1)
					b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(c.digestAlg) })
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidData) })
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(c.certs) })
					b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
							b.AddASN1Int64(1)
							b.AddBytes(c.sid)
							b.AddBytes(c.digestAlg)
							// [0] IMPLICIT: same content as the SET.
							b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddBytes(setContent(signedAttrs))
							})
							b.AddBytes(c.sigAlg)
							b.AddASN1OctetString(sig)
							if len(unsigned) > 0 {
								b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
									b.AddBytes(setContent(setOf(cbasn1.SET, unsigned)))
								})
							}
						})
					})
				})
			})
		})
	})
}

// setContent strips the tag and length of a DER element.
func setContent(der []byte) []byte {
	s := cryptobyte.String(der)
	var content cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&content, &tag) {
		panic("signer: bad internal DER")
	}
	return content
}

// maxSize returns the size of the CMS with the largest possible signature
// and tsReserve bytes for a signature-time-stamp attribute.
func (c *cmsSigner) maxSize(tsReserve int) int {
	sa := c.signedAttributes(make([]byte, c.hash.Size()))
	n := len(c.encode(sa, make([]byte, c.maxSigLen), nil))
	if tsReserve > 0 {
		// Attribute wrapping: [1] + SET + SEQUENCE + OID + SET, each with
		// up to 4 length bytes.
		n += tsReserve + 40
	}
	return n
}
