// Package cms parses the CMS SignedData structures (RFC 5652) that PDF
// signatures and RFC 3161 time-stamp tokens carry, and verifies signer
// signature values. It is a reader for validation only: it never encodes.
//
// Input is hostile: sizes and counts are bounded, every error is a value
// wrapping [ErrFormat] or [ErrAlgorithm], and nothing panics.
//
// It must not import any Thiqa package.
package cms

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Errors of the package; test with errors.Is.
var (
	// ErrFormat means the bytes are not a well-formed SignedData.
	ErrFormat = errors.New("cms: malformed structure")
	// ErrAlgorithm means an algorithm is unknown or not supported.
	ErrAlgorithm = errors.New("cms: unsupported algorithm")
	// ErrSignature means a signature value does not verify.
	ErrSignature = errors.New("cms: signature value does not verify")
	// ErrLimit means a count or size bound was reached.
	ErrLimit = errors.New("cms: limit exceeded")
)

// Limits on one structure.
const (
	MaxSize         = 16 << 20
	MaxCertificates = 256
	MaxCRLs         = 256
	MaxSigners      = 16
	MaxAttributes   = 64
)

// Object identifiers used by callers.
var (
	OIDData                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	OIDSignedData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	OIDTSTInfo             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	OIDAttrContentType     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	OIDAttrMessageDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	OIDAttrSigningTime     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	OIDAttrSigningCert     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	OIDAttrSigningCertV2   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	OIDAttrTimeStampToken  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	OIDAttrAdbeRevocation  = asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 8}
	OIDAttrSigPolicyID     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 15}
	OIDRevInfoOCSPResponse = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 16, 2}
)

// Attribute is one CMS attribute with its values as raw DER elements.
type Attribute struct {
	Type   asn1.ObjectIdentifier
	Values [][]byte
}

// SignerInfo is one signer of a SignedData.
type SignerInfo struct {
	Version      int64
	IssuerRaw    []byte   // DER Name of IssuerAndSerialNumber, or nil
	Serial       *big.Int // nil when the signer is named by key identifier
	SubjectKeyID []byte
	DigestAlg    asn1.ObjectIdentifier
	// SignedAttrsDER is the signed attributes re-tagged as a SET, the
	// bytes the signature covers; nil when there are none.
	SignedAttrsDER []byte
	SignedAttrs    []Attribute
	SigAlg         asn1.ObjectIdentifier
	SigAlgParams   []byte // raw DER of the parameters, or nil
	Signature      []byte
	UnsignedAttrs  []Attribute
}

// SignedData is a parsed ContentInfo holding SignedData.
type SignedData struct {
	Version      int64
	ContentType  asn1.ObjectIdentifier // eContentType
	Content      []byte                // eContent octets, nil when detached
	Certificates []*x509.Certificate
	BadCerts     []string // why certificates did not parse
	CRLs         [][]byte // DER CertificateList
	OCSPs        [][]byte // DER OCSPResponse from RevocationInfoChoices
	Signers      []SignerInfo
	// Trailing is the number of non-zero bytes after the ContentInfo
	// (zero padding of a PDF /Contents is normal and not counted).
	Trailing int
}

// Parse parses a DER (or zero-padded DER) ContentInfo with SignedData.
func Parse(der []byte) (*SignedData, error) {
	if len(der) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrLimit, len(der))
	}
	if len(der) > 1 && der[1] == 0x80 || !isDER(der) {
		d, err := toDER(der)
		if err != nil {
			return nil, err
		}
		der = d
	}
	in := cryptobyte.String(der)
	var ci, signed cryptobyte.String
	var ct asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: no ContentInfo", ErrFormat)
	}
	sd := &SignedData{}
	for _, b := range in {
		if b != 0 {
			sd.Trailing++
		}
	}
	if !ci.ReadASN1ObjectIdentifier(&ct) || !ct.Equal(OIDSignedData) {
		return nil, fmt.Errorf("%w: content type is not SignedData", ErrFormat)
	}
	if !ci.ReadASN1(&signed, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, fmt.Errorf("%w: no SignedData content", ErrFormat)
	}
	var s cryptobyte.String
	if !signed.ReadASN1(&s, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: SignedData is not a SEQUENCE", ErrFormat)
	}
	if err := sd.parse(s); err != nil {
		return nil, err
	}
	return sd, nil
}

func (sd *SignedData) parse(s cryptobyte.String) error {
	var digestAlgs, eci cryptobyte.String
	if !s.ReadASN1Int64WithTag(&sd.Version, cbasn1.INTEGER) ||
		!s.ReadASN1(&digestAlgs, cbasn1.SET) ||
		!s.ReadASN1(&eci, cbasn1.SEQUENCE) {
		return fmt.Errorf("%w: SignedData header", ErrFormat)
	}
	if !eci.ReadASN1ObjectIdentifier(&sd.ContentType) {
		return fmt.Errorf("%w: encapsulated content type", ErrFormat)
	}
	if eci.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var ec cryptobyte.String
		if !eci.ReadASN1(&ec, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return fmt.Errorf("%w: encapsulated content", ErrFormat)
		}
		c, err := readOctets(ec)
		if err != nil {
			return err
		}
		sd.Content = c
	}
	if s.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var certs cryptobyte.String
		if !s.ReadASN1(&certs, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return fmt.Errorf("%w: certificates", ErrFormat)
		}
		if err := sd.parseCerts(certs); err != nil {
			return err
		}
	}
	if s.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		var crls cryptobyte.String
		if !s.ReadASN1(&crls, cbasn1.Tag(1).Constructed().ContextSpecific()) {
			return fmt.Errorf("%w: crls", ErrFormat)
		}
		if err := sd.parseRevocationInfo(crls); err != nil {
			return err
		}
	}
	var infos cryptobyte.String
	if !s.ReadASN1(&infos, cbasn1.SET) {
		return fmt.Errorf("%w: signerInfos", ErrFormat)
	}
	for !infos.Empty() {
		if len(sd.Signers) >= MaxSigners {
			return fmt.Errorf("%w: more than %d signers", ErrLimit, MaxSigners)
		}
		var si cryptobyte.String
		if !infos.ReadASN1(&si, cbasn1.SEQUENCE) {
			return fmt.Errorf("%w: signerInfo", ErrFormat)
		}
		info, err := parseSignerInfo(si)
		if err != nil {
			return err
		}
		sd.Signers = append(sd.Signers, *info)
	}
	return nil
}

// isDER reports whether der starts with a definite-length element with
// no indefinite lengths inside.
func isDER(der []byte) bool {
	s := cryptobyte.String(der)
	var el cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1Element(&el, &tag) {
		return false
	}
	return !hasIndefinite(el, 0)
}

// readOctets reads an OCTET STRING, primitive or constructed (BER).
func readOctets(s cryptobyte.String) ([]byte, error) {
	var tag cbasn1.Tag
	var body cryptobyte.String
	if !s.ReadAnyASN1(&body, &tag) {
		return nil, fmt.Errorf("%w: encapsulated content octets", ErrFormat)
	}
	if tag == cbasn1.OCTET_STRING {
		return body, nil
	}
	if tag == cbasn1.OCTET_STRING|0x20 {
		var out []byte
		for i := 0; !body.Empty(); i++ {
			var part cryptobyte.String
			if i > 4096 || !body.ReadASN1(&part, cbasn1.OCTET_STRING) {
				return nil, fmt.Errorf("%w: constructed content octets", ErrFormat)
			}
			out = append(out, part...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: content is not an OCTET STRING", ErrFormat)
}

func (sd *SignedData) parseCerts(certs cryptobyte.String) error {
	for n := 0; !certs.Empty(); n++ {
		if n >= MaxCertificates {
			return fmt.Errorf("%w: more than %d certificates", ErrLimit, MaxCertificates)
		}
		var el cryptobyte.String
		var tag cbasn1.Tag
		if !certs.ReadAnyASN1Element(&el, &tag) {
			return fmt.Errorf("%w: certificate", ErrFormat)
		}
		if tag != cbasn1.SEQUENCE {
			continue // attribute or other certificate formats
		}
		c, err := x509.ParseCertificate(el)
		if err != nil {
			if len(sd.BadCerts) < 8 {
				sd.BadCerts = append(sd.BadCerts, err.Error())
			}
			continue
		}
		sd.Certificates = append(sd.Certificates, c)
	}
	return nil
}

func (sd *SignedData) parseRevocationInfo(s cryptobyte.String) error {
	for n := 0; !s.Empty(); n++ {
		if n >= MaxCRLs {
			return fmt.Errorf("%w: more than %d revocation entries", ErrLimit, MaxCRLs)
		}
		var el cryptobyte.String
		var tag cbasn1.Tag
		if !s.ReadAnyASN1Element(&el, &tag) {
			return fmt.Errorf("%w: revocation info", ErrFormat)
		}
		switch tag {
		case cbasn1.SEQUENCE:
			sd.CRLs = append(sd.CRLs, el)
		case cbasn1.Tag(1).Constructed().ContextSpecific():
			var body cryptobyte.String
			var oid asn1.ObjectIdentifier
			var val cryptobyte.String
			var vtag cbasn1.Tag
			if !el.ReadASN1(&body, tag) || !body.ReadASN1ObjectIdentifier(&oid) || !body.ReadAnyASN1Element(&val, &vtag) {
				continue
			}
			if oid.Equal(OIDRevInfoOCSPResponse) {
				sd.OCSPs = append(sd.OCSPs, val)
			}
		}
	}
	return nil
}

func parseSignerInfo(s cryptobyte.String) (*SignerInfo, error) {
	si := &SignerInfo{}
	if !s.ReadASN1Int64WithTag(&si.Version, cbasn1.INTEGER) {
		return nil, fmt.Errorf("%w: signerInfo version", ErrFormat)
	}
	if s.PeekASN1Tag(cbasn1.SEQUENCE) {
		var ias, name cryptobyte.String
		si.Serial = new(big.Int)
		if !s.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&name, cbasn1.SEQUENCE) || !ias.ReadASN1Integer(si.Serial) {
			return nil, fmt.Errorf("%w: issuerAndSerialNumber", ErrFormat)
		}
		si.IssuerRaw = name
	} else {
		var ski cryptobyte.String
		if !s.ReadASN1(&ski, cbasn1.Tag(0).ContextSpecific()) {
			return nil, fmt.Errorf("%w: signer identifier", ErrFormat)
		}
		si.SubjectKeyID = ski
	}
	var alg cryptobyte.String
	if !s.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&si.DigestAlg) {
		return nil, fmt.Errorf("%w: digest algorithm", ErrFormat)
	}
	if s.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var el cryptobyte.String
		if !s.ReadASN1Element(&el, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, fmt.Errorf("%w: signed attributes", ErrFormat)
		}
		si.SignedAttrsDER = append([]byte{0x31}, el[1:]...)
		var body cryptobyte.String
		if !el.ReadASN1(&body, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, fmt.Errorf("%w: signed attributes", ErrFormat)
		}
		attrs, err := parseAttrs(body)
		if err != nil {
			return nil, err
		}
		si.SignedAttrs = attrs
	}
	var sa cryptobyte.String
	if !s.ReadASN1(&sa, cbasn1.SEQUENCE) || !sa.ReadASN1ObjectIdentifier(&si.SigAlg) {
		return nil, fmt.Errorf("%w: signature algorithm", ErrFormat)
	}
	if !sa.Empty() {
		si.SigAlgParams = sa
	}
	var sig cryptobyte.String
	if !s.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, fmt.Errorf("%w: signature value", ErrFormat)
	}
	si.Signature = sig
	if s.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		var body cryptobyte.String
		if !s.ReadASN1(&body, cbasn1.Tag(1).Constructed().ContextSpecific()) {
			return nil, fmt.Errorf("%w: unsigned attributes", ErrFormat)
		}
		attrs, err := parseAttrs(body)
		if err != nil {
			return nil, err
		}
		si.UnsignedAttrs = attrs
	}
	return si, nil
}

func parseAttrs(s cryptobyte.String) ([]Attribute, error) {
	var out []Attribute
	for !s.Empty() {
		if len(out) >= MaxAttributes {
			return nil, fmt.Errorf("%w: more than %d attributes", ErrLimit, MaxAttributes)
		}
		var a, vals cryptobyte.String
		var at Attribute
		if !s.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&at.Type) || !a.ReadASN1(&vals, cbasn1.SET) {
			return nil, fmt.Errorf("%w: attribute", ErrFormat)
		}
		for !vals.Empty() {
			if len(at.Values) >= MaxAttributes {
				return nil, fmt.Errorf("%w: attribute values", ErrLimit)
			}
			var v cryptobyte.String
			var tag cbasn1.Tag
			if !vals.ReadAnyASN1Element(&v, &tag) {
				return nil, fmt.Errorf("%w: attribute value", ErrFormat)
			}
			at.Values = append(at.Values, v)
		}
		out = append(out, at)
	}
	return out, nil
}

// Attr returns the values of the first attribute of type oid in attrs.
func Attr(attrs []Attribute, oid asn1.ObjectIdentifier) ([][]byte, bool) {
	for _, a := range attrs {
		if a.Type.Equal(oid) {
			return a.Values, true
		}
	}
	return nil, false
}

// CountAttr returns how many attributes of type oid attrs has.
func CountAttr(attrs []Attribute, oid asn1.ObjectIdentifier) int {
	n := 0
	for _, a := range attrs {
		if a.Type.Equal(oid) {
			n++
		}
	}
	return n
}

// MessageDigest returns the message-digest signed attribute.
func (si *SignerInfo) MessageDigest() ([]byte, error) {
	if CountAttr(si.SignedAttrs, OIDAttrMessageDigest) != 1 {
		return nil, fmt.Errorf("%w: want exactly one message-digest attribute", ErrFormat)
	}
	vals, _ := Attr(si.SignedAttrs, OIDAttrMessageDigest)
	if len(vals) != 1 {
		return nil, fmt.Errorf("%w: message-digest attribute values", ErrFormat)
	}
	s := cryptobyte.String(vals[0])
	var d cryptobyte.String
	if !s.ReadASN1(&d, cbasn1.OCTET_STRING) {
		return nil, fmt.Errorf("%w: message-digest is not an OCTET STRING", ErrFormat)
	}
	return d, nil
}

// SigningTime returns the CMS signing-time attribute, if present.
func (si *SignerInfo) SigningTime() (time.Time, bool) {
	vals, ok := Attr(si.SignedAttrs, OIDAttrSigningTime)
	if !ok || len(vals) != 1 {
		return time.Time{}, false
	}
	var t time.Time
	if _, err := asn1.Unmarshal(vals[0], &t); err != nil {
		return time.Time{}, false
	}
	return t, true
}

// FindCertificate returns the certificate of certs that si names.
func (si *SignerInfo) FindCertificate(certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if si.Serial != nil && c.SerialNumber.Cmp(si.Serial) == 0 && string(c.RawIssuer) == string(si.IssuerRaw) {
			return c
		}
		if si.SubjectKeyID != nil && len(c.SubjectKeyId) > 0 && string(c.SubjectKeyId) == string(si.SubjectKeyID) {
			return c
		}
	}
	return nil
}

// HashFromOID returns the hash an algorithm identifier names.
func HashFromOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	for h, o := range hashOIDs {
		if o.Equal(oid) {
			return h, true
		}
	}
	return 0, false
}

var hashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.SHA1:   {1, 3, 14, 3, 2, 26},
	crypto.SHA224: {2, 16, 840, 1, 101, 3, 4, 2, 4},
	crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
	crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
	crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
}
