package ocspwire

import (
	"bytes"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Limits applied by [ParseRequest] and [ReadRequest].
const (
	// MaxRequestSize is the largest DER OCSPRequest that ParseRequest
	// reads, and the default limit of ReadRequest.
	MaxRequestSize = 64 << 10
	// MaxNonceSize and MinNonceSize bound the nonce (RFC 8954 section 2.1).
	MaxNonceSize = 32
	MinNonceSize = 1
	// maxSerialSize bounds the serial number's INTEGER content; RFC 5280
	// allows 20 octets, some CAs use one more.
	maxSerialSize = 32
)

// Errors of the package. Errors of ParseRequest wrap ErrMalformed or
// ErrUnsupported; errors of ReadRequest wrap one of ErrMethodNotAllowed,
// ErrContentType, ErrTooLarge or ErrBadEncoding.
var (
	// ErrMalformed means the bytes are not a well-formed DER OCSPRequest
	// (or the nonce breaks RFC 8954). Answer with malformedRequest.
	ErrMalformed = errors.New("ocspwire: malformed OCSP request")
	// ErrUnsupported means a well-formed request that Thiqa does not
	// serve: several requests in one, an unknown hash algorithm, an unknown
	// critical extension. Answer with malformedRequest or unauthorized.
	ErrUnsupported = errors.New("ocspwire: unsupported OCSP request")
	// ErrMethodNotAllowed means an HTTP method other than GET or POST
	// (HTTP 405).
	ErrMethodNotAllowed = errors.New("ocspwire: method not allowed")
	// ErrContentType means a POST whose content type is not
	// application/ocsp-request (HTTP 415).
	ErrContentType = errors.New("ocspwire: content type is not application/ocsp-request")
	// ErrTooLarge means a request over the limit (HTTP 413, or 414 for a
	// GET).
	ErrTooLarge = errors.New("ocspwire: request too large")
	// ErrBadEncoding means the GET path is not base64 of a request, or the
	// body cannot be read (HTTP 400).
	ErrBadEncoding = errors.New("ocspwire: bad request encoding")
)

// Request is the single request of an OCSPRequest, with its nonce.
type Request struct {
	HashAlgorithm  crypto.Hash // of IssuerNameHash and IssuerKeyHash
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
	// Nonce is the nonce extension's value (the OCTET STRING contents), nil
	// if absent.
	Nonce []byte
}

var (
	oidNonce  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

func hashFromOID(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oid.Equal(oidSHA1):
		return crypto.SHA1
	case oid.Equal(oidSHA256):
		return crypto.SHA256
	case oid.Equal(oidSHA384):
		return crypto.SHA384
	case oid.Equal(oidSHA512):
		return crypto.SHA512
	}
	return 0
}

func malformed(what string) error {
	return fmt.Errorf("parse OCSP request: %w: %s", ErrMalformed, what)
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("parse OCSP request: %w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

var (
	tagVersion       = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagRequestorName = cbasn1.Tag(1).ContextSpecific().Constructed()
	tagRequestExts   = cbasn1.Tag(2).ContextSpecific().Constructed()
	tagSignature     = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagSingleExts    = cbasn1.Tag(0).ContextSpecific().Constructed()
)

// ParseRequest parses a DER OCSPRequest (RFC 6960 section 4.1.1) holding
// exactly one Request; more than one is ErrUnsupported. A signed request
// is accepted and its signature ignored. The nonce must be 1 to 32 octets
// (RFC 8954). Parsing is strict DER and bounded by [MaxRequestSize].
func ParseRequest(der []byte) (*Request, error) {
	if len(der) > MaxRequestSize {
		return nil, malformed(fmt.Sprintf("larger than %d bytes", MaxRequestSize))
	}
	in := cryptobyte.String(der)
	var ocspReq, tbs cryptobyte.String
	if !in.ReadASN1(&ocspReq, cbasn1.SEQUENCE) || !in.Empty() ||
		!ocspReq.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, malformed("not an OCSPRequest")
	}
	if !ocspReq.SkipOptionalASN1(tagSignature) || !ocspReq.Empty() {
		return nil, malformed("bad optionalSignature")
	}
	if tbs.PeekASN1Tag(tagVersion) {
		var v cryptobyte.String
		var version int64
		if !tbs.ReadASN1(&v, tagVersion) || !v.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) || !v.Empty() {
			return nil, malformed("bad version")
		}
		if version != 0 {
			return nil, unsupported("version %d", version+1)
		}
	}
	if !tbs.SkipOptionalASN1(tagRequestorName) {
		return nil, malformed("bad requestorName")
	}
	var list cryptobyte.String
	if !tbs.ReadASN1(&list, cbasn1.SEQUENCE) {
		return nil, malformed("bad requestList")
	}
	var single cryptobyte.String
	if !list.ReadASN1(&single, cbasn1.SEQUENCE) {
		return nil, malformed("empty or bad requestList")
	}
	if !list.Empty() {
		return nil, unsupported("more than one request")
	}
	req, err := parseSingle(single)
	if err != nil {
		return nil, err
	}
	if tbs.PeekASN1Tag(tagRequestExts) {
		var exts cryptobyte.String
		if !tbs.ReadASN1(&exts, tagRequestExts) {
			return nil, malformed("bad requestExtensions")
		}
		if req.Nonce, err = parseExtensions(exts, true); err != nil {
			return nil, err
		}
	}
	if !tbs.Empty() {
		return nil, malformed("unexpected data in tbsRequest")
	}
	return req, nil
}

func parseSingle(s cryptobyte.String) (*Request, error) {
	var certID, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&certID, cbasn1.SEQUENCE) ||
		!certID.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return nil, malformed("bad certID")
	}
	if alg.PeekASN1Tag(cbasn1.NULL) {
		var null cryptobyte.String
		if !alg.ReadASN1(&null, cbasn1.NULL) || !null.Empty() {
			return nil, malformed("bad hash algorithm parameters")
		}
	}
	if !alg.Empty() {
		return nil, malformed("bad hash algorithm parameters")
	}
	req := &Request{HashAlgorithm: hashFromOID(oid)}
	if req.HashAlgorithm == 0 {
		return nil, unsupported("hash algorithm %s", oid)
	}
	var serial []byte
	if !certID.ReadASN1Bytes(&req.IssuerNameHash, cbasn1.OCTET_STRING) ||
		!certID.ReadASN1Bytes(&req.IssuerKeyHash, cbasn1.OCTET_STRING) ||
		!certID.ReadASN1Bytes(&serial, cbasn1.INTEGER) || !certID.Empty() {
		return nil, malformed("bad certID")
	}
	if len(req.IssuerNameHash) != req.HashAlgorithm.Size() || len(req.IssuerKeyHash) != req.HashAlgorithm.Size() {
		return nil, malformed("issuer hashes do not match the hash algorithm")
	}
	if !minimalInteger(serial) || len(serial) > maxSerialSize {
		return nil, malformed("bad serial number")
	}
	req.IssuerNameHash = bytes.Clone(req.IssuerNameHash)
	req.IssuerKeyHash = bytes.Clone(req.IssuerKeyHash)
	req.SerialNumber = integerValue(serial)
	if s.PeekASN1Tag(tagSingleExts) {
		var exts cryptobyte.String
		if !s.ReadASN1(&exts, tagSingleExts) {
			return nil, malformed("bad singleRequestExtensions")
		}
		if _, err := parseExtensions(exts, false); err != nil {
			return nil, err
		}
	}
	if !s.Empty() {
		return nil, malformed("unexpected data in request")
	}
	return req, nil
}

// parseExtensions checks an [n] EXPLICIT Extensions and returns the nonce
// when wantNonce is set. Unknown critical extensions are unsupported.
func parseExtensions(s cryptobyte.String, wantNonce bool) ([]byte, error) {
	var exts cryptobyte.String
	if !s.ReadASN1(&exts, cbasn1.SEQUENCE) || !s.Empty() || exts.Empty() {
		return nil, malformed("bad extensions")
	}
	var nonce []byte
	for !exts.Empty() {
		var ext cryptobyte.String
		var oid asn1.ObjectIdentifier
		var critical bool
		var value []byte
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&oid) {
			return nil, malformed("bad extension")
		}
		if ext.PeekASN1Tag(cbasn1.BOOLEAN) {
			if !ext.ReadASN1Boolean(&critical) || !critical {
				return nil, malformed("bad extension criticality")
			}
		}
		if !ext.ReadASN1Bytes(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			return nil, malformed("bad extension value")
		}
		switch {
		case wantNonce && oid.Equal(oidNonce):
			if nonce != nil {
				return nil, malformed("duplicate nonce")
			}
			v := cryptobyte.String(value)
			if !v.ReadASN1Bytes(&nonce, cbasn1.OCTET_STRING) || !v.Empty() {
				return nil, malformed("nonce is not an OCTET STRING")
			}
			if len(nonce) < MinNonceSize || len(nonce) > MaxNonceSize {
				return nil, malformed(fmt.Sprintf("nonce of %d octets, want %d to %d", len(nonce), MinNonceSize, MaxNonceSize))
			}
			nonce = bytes.Clone(nonce)
		case critical:
			return nil, unsupported("critical extension %s", oid)
		}
	}
	return nonce, nil
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

func integerValue(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return n
}

// NonceExtension returns the response extension echoing nonce (RFC 6960
// section 4.4.1), for ocsp.Template.ExtraExtensions.
func NonceExtension(nonce []byte) pkix.Extension {
	var b cryptobyte.Builder
	b.AddASN1OctetString(nonce)
	return pkix.Extension{Id: oidNonce, Value: b.BytesOrPanic()}
}
