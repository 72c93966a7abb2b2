package tsp

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Limits applied by [ParseRequest].
const (
	// MaxRequestSize is the largest DER TimeStampReq that ParseRequest reads.
	MaxRequestSize = 16 << 10
	// MaxNonceSize is the largest nonce, in content octets of its INTEGER,
	// that ParseRequest accepts (RFC 3161 asks for a large random number;
	// common clients send 8 to 20 octets).
	MaxNonceSize = 64
)

// Request is a parsed TimeStampReq (RFC 3161 section 2.4.1).
type Request struct {
	// HashAlgorithm is the hash of the message imprint: SHA-256, SHA-384 or
	// SHA-512.
	HashAlgorithm crypto.Hash
	// HashedMessage is the digest to be time-stamped; its length matches
	// HashAlgorithm.
	HashedMessage []byte
	// Policy is the requested TSA policy (reqPolicy), nil if absent.
	Policy asn1.ObjectIdentifier
	// Nonce is the request's nonce, nil if absent.
	Nonce *big.Int
	// CertReq asks for the TSU certificate and chain in the token.
	CertReq bool

	imprint  []byte // DER MessageImprint, echoed verbatim in TSTInfo
	rawNonce []byte // DER INTEGER of the nonce, echoed verbatim
}

var (
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidMD5    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

func hashFromOID(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256
	case oid.Equal(oidSHA384):
		return crypto.SHA384
	case oid.Equal(oidSHA512):
		return crypto.SHA512
	}
	return 0
}

func oidFromHash(h crypto.Hash) asn1.ObjectIdentifier {
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

// ParseRequest parses a DER TimeStampReq. It is strict: BER forms, trailing
// bytes, an encoded DEFAULT certReq, a version other than 1 and unknown or
// weak hash algorithms are refused. Every error is a *[RequestError] whose
// Failure is the reason to send back to the client.
func ParseRequest(der []byte) (*Request, error) {
	if len(der) > MaxRequestSize {
		return nil, reqErr(FailBadDataFormat, "request larger than %d bytes", MaxRequestSize)
	}
	input := cryptobyte.String(der)
	var body cryptobyte.String
	if !input.ReadASN1(&body, cbasn1.SEQUENCE) || !input.Empty() {
		return nil, reqErr(FailBadDataFormat, "request is not a DER TimeStampReq")
	}
	var version int64
	if !body.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) {
		return nil, reqErr(FailBadDataFormat, "malformed version")
	}
	if version != 1 {
		return nil, reqErr(FailBadRequest, "unsupported request version %d", version)
	}
	req := new(Request)
	if err := req.parseImprint(&body); err != nil {
		return nil, err
	}
	if body.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
		if !body.ReadASN1ObjectIdentifier(&req.Policy) {
			return nil, reqErr(FailBadDataFormat, "malformed reqPolicy")
		}
	}
	if body.PeekASN1Tag(cbasn1.INTEGER) {
		if err := req.parseNonce(&body); err != nil {
			return nil, err
		}
	}
	if body.PeekASN1Tag(cbasn1.BOOLEAN) {
		if !body.ReadASN1Boolean(&req.CertReq) {
			return nil, reqErr(FailBadDataFormat, "malformed certReq")
		}
		if !req.CertReq {
			return nil, reqErr(FailBadDataFormat, "certReq FALSE must be omitted in DER")
		}
	}
	if body.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, reqErr(FailUnacceptedExtension, "request extensions are not supported")
	}
	if !body.Empty() {
		return nil, reqErr(FailBadDataFormat, "unexpected data in request")
	}
	return req, nil
}

func (req *Request) parseImprint(body *cryptobyte.String) error {
	var imprint, mi, alg cryptobyte.String
	if !body.ReadASN1Element(&imprint, cbasn1.SEQUENCE) {
		return reqErr(FailBadDataFormat, "malformed messageImprint")
	}
	outer := imprint
	var oid asn1.ObjectIdentifier
	if !outer.ReadASN1(&mi, cbasn1.SEQUENCE) ||
		!mi.ReadASN1(&alg, cbasn1.SEQUENCE) ||
		!alg.ReadASN1ObjectIdentifier(&oid) {
		return reqErr(FailBadDataFormat, "malformed hashAlgorithm")
	}
	var null cryptobyte.String
	if alg.PeekASN1Tag(cbasn1.NULL) && (!alg.ReadASN1(&null, cbasn1.NULL) || !null.Empty()) {
		return reqErr(FailBadDataFormat, "malformed hashAlgorithm parameters")
	}
	if !alg.Empty() {
		return reqErr(FailBadAlg, "unexpected hashAlgorithm parameters")
	}
	req.HashAlgorithm = hashFromOID(oid)
	if req.HashAlgorithm == 0 {
		switch {
		case oid.Equal(oidSHA1):
			return reqErr(FailBadAlg, "SHA-1 imprints are not accepted")
		case oid.Equal(oidMD5):
			return reqErr(FailBadAlg, "MD5 imprints are not accepted")
		}
		return reqErr(FailBadAlg, "unsupported hash algorithm %s", oid)
	}
	var digest []byte
	if !mi.ReadASN1Bytes(&digest, cbasn1.OCTET_STRING) || !mi.Empty() {
		return reqErr(FailBadDataFormat, "malformed hashedMessage")
	}
	if len(digest) != req.HashAlgorithm.Size() {
		return reqErr(FailBadDataFormat, "hashedMessage is %d bytes, want %d for %s",
			len(digest), req.HashAlgorithm.Size(), req.HashAlgorithm)
	}
	req.HashedMessage = bytes.Clone(digest)
	req.imprint = bytes.Clone(imprint)
	return nil
}

func (req *Request) parseNonce(body *cryptobyte.String) error {
	var elem cryptobyte.String
	if !body.ReadASN1Element(&elem, cbasn1.INTEGER) {
		return reqErr(FailBadDataFormat, "malformed nonce")
	}
	content := elem
	var n []byte
	if !content.ReadASN1Bytes(&n, cbasn1.INTEGER) || !minimalInteger(n) {
		return reqErr(FailBadDataFormat, "malformed nonce")
	}
	if len(n) > MaxNonceSize {
		return reqErr(FailBadDataFormat, "nonce longer than %d bytes", MaxNonceSize)
	}
	req.Nonce = integerValue(n)
	req.rawNonce = bytes.Clone(elem)
	return nil
}

// minimalInteger reports whether b is the minimal two's complement content
// of a DER INTEGER.
func minimalInteger(b []byte) bool {
	switch {
	case len(b) == 0:
		return false
	case len(b) == 1:
		return true
	case b[0] == 0 && b[1]&0x80 == 0, b[0] == 0xff && b[1]&0x80 != 0:
		return false
	}
	return true
}

// integerValue decodes the two's complement content of a DER INTEGER.
func integerValue(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return n
}

// RequestOptions are the optional fields of a request made by [NewRequest].
type RequestOptions struct {
	Policy  asn1.ObjectIdentifier // reqPolicy; nil to omit
	Nonce   *big.Int              // nonce; nil to omit
	CertReq bool                  // ask for the TSU certificate and chain
}

// NewRequest returns a DER TimeStampReq for digest, which must be a digest
// made with h (SHA-256, SHA-384 or SHA-512).
func NewRequest(h crypto.Hash, digest []byte, opts RequestOptions) ([]byte, error) {
	oid := oidFromHash(h)
	if oid == nil {
		return nil, fmt.Errorf("new time-stamp request: unsupported hash algorithm %v", h)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("new time-stamp request: digest is %d bytes, want %d for %v", len(digest), h.Size(), h)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		addImprint(b, oid, digest)
		if opts.Policy != nil {
			b.AddASN1ObjectIdentifier(opts.Policy)
		}
		if opts.Nonce != nil {
			b.AddASN1BigInt(opts.Nonce)
		}
		if opts.CertReq {
			b.AddASN1Boolean(true)
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("new time-stamp request: %w", err)
	}
	return der, nil
}

func addImprint(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, digest []byte) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1NULL()
		})
		b.AddASN1OctetString(digest)
	})
}
