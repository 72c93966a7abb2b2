package tsp

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// MaxResponseSize is the largest DER TimeStampResp that [ParseResponse]
// reads.
const MaxResponseSize = 1 << 20

// Response is a parsed TimeStampResp (RFC 3161 section 2.4.2).
type Response struct {
	Status       Status
	StatusString []string    // the PKIFreeText, if any
	Failure      FailureInfo // the failInfo bits, 0 if absent
	// Token is the DER TimeStampToken (a ContentInfo holding SignedData),
	// nil if the response carries none.
	Token []byte
	// Info is the TSTInfo inside Token, nil if there is no token. Its
	// signature has NOT been checked.
	Info *TSTInfo
}

// TSTInfo holds the fields of a time-stamp token's TSTInfo (RFC 3161
// section 2.4.2) that Thiqa uses.
type TSTInfo struct {
	Policy        asn1.ObjectIdentifier
	HashAlgorithm crypto.Hash // 0 if the imprint's algorithm is unknown
	HashedMessage []byte
	SerialNumber  *big.Int
	GenTime       time.Time
	Accuracy      time.Duration
	Ordering      bool
	Nonce         *big.Int // nil if absent
	// TSAName is the DER GeneralName of the tsa field, nil if absent.
	TSAName []byte
	// Qualified reports the qcStatements extension with
	// esi4-qtstStatement-1 (ETSI EN 319 422 section 9.1).
	Qualified bool
}

// ParseResponse parses a DER TimeStampResp and, when it carries a token, the
// token's TSTInfo. It does not verify the token's signature.
func ParseResponse(der []byte) (*Response, error) {
	if len(der) > MaxResponseSize {
		return nil, fmt.Errorf("parse time-stamp response: %w: larger than %d bytes", ErrMalformedResponse, MaxResponseSize)
	}
	in := cryptobyte.String(der)
	var body, statusInfo cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !in.Empty() ||
		!body.ReadASN1(&statusInfo, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("parse time-stamp response: %w: not a TimeStampResp", ErrMalformedResponse)
	}
	resp := new(Response)
	if err := resp.parseStatus(statusInfo); err != nil {
		return nil, fmt.Errorf("parse time-stamp response: %w", err)
	}
	if body.Empty() {
		return resp, nil
	}
	var token cryptobyte.String
	if !body.ReadASN1Element(&token, cbasn1.SEQUENCE) || !body.Empty() {
		return nil, fmt.Errorf("parse time-stamp response: %w: malformed token", ErrMalformedResponse)
	}
	info, err := ParseToken(token)
	if err != nil {
		return nil, fmt.Errorf("parse time-stamp response: %w", err)
	}
	resp.Token = bytes.Clone(token)
	resp.Info = info
	return resp, nil
}

func (r *Response) parseStatus(s cryptobyte.String) error {
	var status int64
	if !s.ReadASN1Int64WithTag(&status, cbasn1.INTEGER) || status < 0 || status > 5 {
		return fmt.Errorf("%w: bad status", ErrMalformedResponse)
	}
	r.Status = Status(status)
	if s.PeekASN1Tag(cbasn1.SEQUENCE) {
		var texts cryptobyte.String
		if !s.ReadASN1(&texts, cbasn1.SEQUENCE) {
			return fmt.Errorf("%w: bad statusString", ErrMalformedResponse)
		}
		for !texts.Empty() {
			var t []byte
			if !texts.ReadASN1Bytes(&t, cbasn1.UTF8String) || !utf8.Valid(t) {
				return fmt.Errorf("%w: bad statusString", ErrMalformedResponse)
			}
			r.StatusString = append(r.StatusString, string(t))
		}
	}
	if s.PeekASN1Tag(cbasn1.BIT_STRING) {
		var bits asn1.BitString
		if !s.ReadASN1BitString(&bits) {
			return fmt.Errorf("%w: bad failInfo", ErrMalformedResponse)
		}
		for i := 0; i < bits.BitLength && i < 32; i++ {
			if bits.At(i) != 0 {
				r.Failure |= 1 << i
			}
		}
	}
	if !s.Empty() {
		return fmt.Errorf("%w: unexpected data in status", ErrMalformedResponse)
	}
	return nil
}

// ParseToken extracts and parses the TSTInfo of a DER TimeStampToken. It
// does not verify the token's signature.
func ParseToken(token []byte) (*TSTInfo, error) {
	in := cryptobyte.String(token)
	var ci, content, sd, encap, eContent cryptobyte.String
	var ctype, etype asn1.ObjectIdentifier
	var version int64
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() ||
		!ci.ReadASN1ObjectIdentifier(&ctype) || !ctype.Equal(oidSignedData) ||
		!ci.ReadASN1(&content, cbasn1.Tag(0).ContextSpecific().Constructed()) || !ci.Empty() ||
		!content.ReadASN1(&sd, cbasn1.SEQUENCE) || !content.Empty() ||
		!sd.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) ||
		!sd.SkipASN1(cbasn1.SET) ||
		!sd.ReadASN1(&encap, cbasn1.SEQUENCE) ||
		!encap.ReadASN1ObjectIdentifier(&etype) || !etype.Equal(oidTSTInfo) ||
		!encap.ReadASN1(&eContent, cbasn1.Tag(0).ContextSpecific().Constructed()) || !encap.Empty() {
		return nil, fmt.Errorf("parse time-stamp token: %w: not a SignedData holding TSTInfo", ErrMalformedResponse)
	}
	var tst []byte
	if !eContent.ReadASN1Bytes(&tst, cbasn1.OCTET_STRING) || !eContent.Empty() {
		return nil, fmt.Errorf("parse time-stamp token: %w: bad eContent", ErrMalformedResponse)
	}
	info, err := parseTSTInfo(tst)
	if err != nil {
		return nil, fmt.Errorf("parse time-stamp token: %w", err)
	}
	return info, nil
}

func parseTSTInfo(der []byte) (*TSTInfo, error) {
	in := cryptobyte.String(der)
	var s, imprint, alg cryptobyte.String
	var version int64
	var hashOID asn1.ObjectIdentifier
	info := &TSTInfo{SerialNumber: new(big.Int)}
	if !in.ReadASN1(&s, cbasn1.SEQUENCE) || !in.Empty() ||
		!s.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) || version != 1 ||
		!s.ReadASN1ObjectIdentifier(&info.Policy) ||
		!s.ReadASN1(&imprint, cbasn1.SEQUENCE) ||
		!imprint.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&hashOID) ||
		!imprint.ReadASN1Bytes(&info.HashedMessage, cbasn1.OCTET_STRING) || !imprint.Empty() ||
		!s.ReadASN1Integer(info.SerialNumber) {
		return nil, fmt.Errorf("%w: bad TSTInfo", ErrMalformedResponse)
	}
	info.HashAlgorithm = hashFromOID(hashOID)
	var gt []byte
	if !s.ReadASN1Bytes(&gt, cbasn1.GeneralizedTime) {
		return nil, fmt.Errorf("%w: bad genTime", ErrMalformedResponse)
	}
	t, err := parseGeneralizedTime(string(gt))
	if err != nil {
		return nil, err
	}
	info.GenTime = t
	if err := info.parseOptional(&s); err != nil {
		return nil, err
	}
	return info, nil
}

func (info *TSTInfo) parseOptional(s *cryptobyte.String) error {
	if s.PeekASN1Tag(cbasn1.SEQUENCE) {
		var acc cryptobyte.String
		var secs, millis, micros int64
		if !s.ReadASN1(&acc, cbasn1.SEQUENCE) ||
			!readOptionalInt(&acc, &secs, cbasn1.INTEGER) ||
			!readOptionalInt(&acc, &millis, cbasn1.Tag(0).ContextSpecific()) ||
			!readOptionalInt(&acc, &micros, cbasn1.Tag(1).ContextSpecific()) || !acc.Empty() ||
			secs < 0 || secs > 1<<31 || millis < 0 || millis > 999 || micros < 0 || micros > 999 {
			return fmt.Errorf("%w: bad accuracy", ErrMalformedResponse)
		}
		info.Accuracy = time.Duration(secs)*time.Second + time.Duration(millis)*time.Millisecond + time.Duration(micros)*time.Microsecond
	}
	if s.PeekASN1Tag(cbasn1.BOOLEAN) && !s.ReadASN1Boolean(&info.Ordering) {
		return fmt.Errorf("%w: bad ordering", ErrMalformedResponse)
	}
	if s.PeekASN1Tag(cbasn1.INTEGER) {
		info.Nonce = new(big.Int)
		if !s.ReadASN1Integer(info.Nonce) {
			return fmt.Errorf("%w: bad nonce", ErrMalformedResponse)
		}
	}
	if s.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		var name cryptobyte.String
		if !s.ReadASN1(&name, cbasn1.Tag(0).ContextSpecific().Constructed()) {
			return fmt.Errorf("%w: bad tsa", ErrMalformedResponse)
		}
		info.TSAName = bytes.Clone(name)
	}
	if s.PeekASN1Tag(cbasn1.Tag(1).ContextSpecific().Constructed()) {
		var exts cryptobyte.String
		if !s.ReadASN1(&exts, cbasn1.Tag(1).ContextSpecific().Constructed()) {
			return fmt.Errorf("%w: bad extensions", ErrMalformedResponse)
		}
		q, err := hasQTSTStatement(exts)
		if err != nil {
			return err
		}
		info.Qualified = q
	}
	if !s.Empty() {
		return fmt.Errorf("%w: unexpected data in TSTInfo", ErrMalformedResponse)
	}
	return nil
}

// hasQTSTStatement reports whether the TSTInfo extensions exts hold a
// qcStatements extension with esi4-qtstStatement-1.
func hasQTSTStatement(exts cryptobyte.String) (bool, error) {
	found := false
	for !exts.Empty() {
		var ext, stmts cryptobyte.String
		var oid asn1.ObjectIdentifier
		var value []byte
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&oid) ||
			!ext.SkipOptionalASN1(cbasn1.BOOLEAN) || !ext.ReadASN1Bytes(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			return false, fmt.Errorf("%w: bad extension", ErrMalformedResponse)
		}
		if !oid.Equal(oidQCStatements) {
			continue
		}
		v := cryptobyte.String(value)
		if !v.ReadASN1(&stmts, cbasn1.SEQUENCE) || !v.Empty() {
			return false, fmt.Errorf("%w: bad qcStatements", ErrMalformedResponse)
		}
		for !stmts.Empty() {
			var st cryptobyte.String
			var id asn1.ObjectIdentifier
			if !stmts.ReadASN1(&st, cbasn1.SEQUENCE) || !st.ReadASN1ObjectIdentifier(&id) {
				return false, fmt.Errorf("%w: bad qcStatement", ErrMalformedResponse)
			}
			found = found || id.Equal(oidQTSTStatement1)
		}
	}
	return found, nil
}

// readOptionalInt reads an INTEGER, implicitly tagged with tag, if present.
func readOptionalInt(s *cryptobyte.String, out *int64, tag cbasn1.Tag) bool {
	if !s.PeekASN1Tag(tag) {
		return true
	}
	return s.ReadASN1Int64WithTag(out, tag)
}

// parseGeneralizedTime parses a DER GeneralizedTime, with an optional
// fraction of a second: YYYYMMDDHHMMSS[.f*]Z.
func parseGeneralizedTime(s string) (time.Time, error) {
	bad := fmt.Errorf("%w: bad genTime %q", ErrMalformedResponse, s)
	if len(s) < 15 || len(s) > 25 || !strings.HasSuffix(s, "Z") {
		return time.Time{}, bad
	}
	layout := "20060102150405"
	if len(s) > 15 {
		if s[14] != '.' || len(s) < 17 || s[len(s)-2] == '0' {
			return time.Time{}, bad
		}
		layout += "." + strings.Repeat("0", len(s)-16)
	}
	t, err := time.Parse(layout+"Z", s)
	if err != nil {
		return time.Time{}, bad
	}
	return t, nil
}
