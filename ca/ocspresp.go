package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// golang.org/x/crypto/ocsp writes extensions only into singleExtensions, so
// it cannot echo a nonce (RFC 8954 puts it in responseExtensions). Thiqa
// encodes its OCSP responses itself (RFC 6960 §4.2.1) and uses x/crypto/ocsp
// only to parse them back in tests.

// ocspStatus is a certificate's status in a response.
type ocspStatus struct {
	code      int // 0 good, 1 revoked, 2 unknown
	revokedAt time.Time
	reason    int
}

var (
	oidOCSPBasic   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	oidOCSPNonce   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	oidECDSASHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSASHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidRSASHA256   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	hashOIDs       = map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA1:   {1, 3, 14, 3, 2, 26},
		crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
		crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
		crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
	}
)

// ocspSigner holds what every response of one responder shares.
type ocspSigner struct {
	key      crypto.Signer
	hash     crypto.Hash
	sigAlg   []byte // DER AlgorithmIdentifier
	keyHash  []byte // responderID byKey
	certsDER []byte // [0] EXPLICIT SEQUENCE OF Certificate
}

func newOCSPSigner(key crypto.Signer, cert *x509.Certificate) (*ocspSigner, error) {
	s := &ocspSigner{key: key}
	var oid asn1.ObjectIdentifier
	var null bool
	switch k := key.Public().(type) {
	case *ecdsa.PublicKey:
		s.hash, oid = crypto.SHA256, oidECDSASHA256
		if k.Curve == elliptic.P384() {
			s.hash, oid = crypto.SHA384, oidECDSASHA384
		}
	case *rsa.PublicKey:
		s.hash, oid, null = crypto.SHA256, oidRSASHA256, true
	default:
		return nil, fmt.Errorf("OCSP responder key type %T not supported", k)
	}
	var err error
	if s.sigAlg, err = derOf(func(b *cryptobyte.Builder) { addAlgorithm(b, oid, null) }); err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, err
	}
	h := sha1.Sum(spki.PublicKey.RightAlign())
	s.keyHash = h[:]
	s.certsDER, err = derOf(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(cert.Raw) })
		})
	})
	return s, err
}

func addAlgorithm(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, null bool) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if null {
			b.AddASN1NULL()
		}
	})
}

func derOf(f cryptobyte.BuilderContinuation) ([]byte, error) {
	var b cryptobyte.Builder
	f(&b)
	return b.Bytes()
}

// certID describes the certificate a single response is about, echoing the
// request's hash algorithm and hashes.
type certID struct {
	hash              crypto.Hash
	nameHash, keyHash []byte
	serial            *big.Int
}

// sign builds and signs a successful OCSP response.
func (s *ocspSigner) sign(r io.Reader, id certID, st ocspStatus, thisUpdate, nextUpdate time.Time, nonce []byte) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	tbs, err := derOf(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(s.keyHash)
			})
			b.AddASN1GeneralizedTime(thisUpdate)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						addAlgorithm(b, hashOIDs[id.hash], true)
						b.AddASN1OctetString(id.nameHash)
						b.AddASN1OctetString(id.keyHash)
						b.AddASN1BigInt(id.serial)
					})
					switch st.code {
					case 0:
						b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(*cryptobyte.Builder) {})
					case 1:
						b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1GeneralizedTime(st.revokedAt.UTC())
							if st.reason != 0 {
								b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
									b.AddASN1(cbasn1.ENUM, func(b *cryptobyte.Builder) { b.AddBytes([]byte{byte(st.reason)}) })
								})
							}
						})
					default:
						b.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(*cryptobyte.Builder) {})
					}
					b.AddASN1GeneralizedTime(thisUpdate)
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1GeneralizedTime(nextUpdate)
					})
				})
			})
			if nonce != nil {
				b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(oidOCSPNonce)
							b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
								b.AddASN1OctetString(nonce)
							})
						})
					})
				})
			}
		})
	})
	if err != nil {
		return nil, fmt.Errorf("encode OCSP response: %w", err)
	}
	h := s.hash.New()
	h.Write(tbs)
	sig, err := s.key.Sign(r, h.Sum(nil), s.hash)
	if err != nil {
		return nil, fmt.Errorf("sign OCSP response: %w", err)
	}
	return derOf(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Enum(0) // successful
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidOCSPBasic)
					b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(tbs)
							b.AddBytes(s.sigAlg)
							b.AddASN1BitString(sig)
							b.AddBytes(s.certsDER)
						})
					})
				})
			})
		})
	})
}
