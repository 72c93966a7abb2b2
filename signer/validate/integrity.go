package validate

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/thiqa/thiqa/signer/internal/pdf"
	"github.com/thiqa/thiqa/signer/validate/internal/cms"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// checkIntegrity checks the byte range, the CMS structure, the digest, the
// signature value and the signing-certificate attribute of s.
func (d *doc) checkIntegrity(s *sig) {
	c := &s.rep.Checks
	*c = Checks{CheckNotChecked, CheckNotChecked, CheckNotChecked, CheckNotChecked, CheckNotChecked, CheckNotChecked, CheckNotChecked}
	if err := d.checkByteRange(s); err != nil {
		c.ByteRange = CheckFailed
		s.setVerdict(TotalFailed, FormatFailure, "byte range: "+err.Error())
		return
	}
	c.ByteRange = CheckPassed
	if s.docTS {
		d.checkDocTimestamp(s)
		return
	}
	if s.rep.SubFilter == "adbe.x509.rsa_sha1" {
		d.checkX509RSASHA1(s)
		return
	}
	sd, err := cms.Parse(s.contents)
	if err != nil {
		s.setVerdict(TotalFailed, FormatFailure, "parse CMS: "+err.Error())
		return
	}
	if len(sd.Signers) != 1 {
		s.setVerdict(TotalFailed, FormatFailure, fmt.Sprintf("parse CMS: %d SignerInfos (a PDF signature has exactly one)", len(sd.Signers)))
		return
	}
	if sd.Content != nil && !s.legacy {
		s.setVerdict(TotalFailed, FormatFailure, "parse CMS: encapsulated content in a detached signature")
		return
	}
	d.pool.add(sd.Certificates...)
	d.rev.addCMS(sd)
	si := &sd.Signers[0]
	s.imprint = si.Signature
	h, ok := cms.HashFromOID(si.DigestAlg)
	if !ok {
		s.setVerdict(Indeterminate, CryptoConstraints, fmt.Sprintf("digest algorithm %v is not supported", si.DigestAlg))
		return
	}
	s.rep.DigestAlgorithm = h.String()
	s.rep.SignatureAlgorithm = si.Algorithm()
	digest, err := d.digestRanges(s.br, h)
	if err != nil {
		s.setVerdict(Indeterminate, Generic, "hash byte range: "+err.Error())
		return
	}
	// What the signature covers: the signed attributes, whose
	// message-digest is over the byte range (or, for adbe.pkcs7.sha1,
	// over the encapsulated SHA-1 digest of the byte range); without
	// signed attributes, the byte range itself or the encapsulated digest.
	var signed []byte
	rawDigest := false
	covered := digest
	if sd.Content != nil {
		want := sha1Ranges(d, s.br)
		if want == nil || !bytes.Equal(sd.Content, want) {
			c.Digest = CheckFailed
			s.setVerdict(TotalFailed, HashFailure, "the encapsulated SHA-1 digest does not match the byte range")
			return
		}
		hh := h.New()
		hh.Write(sd.Content)
		covered = hh.Sum(nil)
		signed = sd.Content
	} else {
		rawDigest = true
	}
	if si.SignedAttrsDER != nil {
		md, err := si.MessageDigest()
		if err != nil {
			s.setVerdict(TotalFailed, FormatFailure, "signed attributes: "+err.Error())
			return
		}
		if !bytes.Equal(md, covered) {
			c.Digest = CheckFailed
			s.setVerdict(TotalFailed, HashFailure, "the message-digest attribute does not match the digest of the byte range")
			return
		}
		if ct, ok := cms.Attr(si.SignedAttrs, cms.OIDAttrContentType); !ok || len(ct) != 1 {
			s.finding("the content-type signed attribute is missing")
		}
		signed, rawDigest = si.SignedAttrsDER, false
	}
	c.Digest = CheckPassed
	s.hashOK = true
	cert := si.FindCertificate(sd.Certificates)
	if cert == nil {
		cert = si.FindCertificate(d.pool.certs)
	}
	if cert == nil {
		msg := "the signer's certificate is not in the CMS or the DSS"
		if len(sd.BadCerts) > 0 {
			msg += fmt.Sprintf(" (%d certificates of the CMS could not be read: %s)", len(sd.BadCerts), sd.BadCerts[0])
		}
		s.setVerdict(Indeterminate, NoSigningCertificate, msg)
		return
	}
	s.rep.Signer = ptr(certSummary(cert))
	s.cert = cert
	if rawDigest {
		err = si.VerifyDigest(cert.PublicKey, digest)
	} else {
		err = si.VerifySignature(cert.PublicKey, signed)
	}
	if err != nil {
		if errors.Is(err, cms.ErrAlgorithm) {
			s.setVerdict(Indeterminate, CryptoConstraints, "signature value: "+err.Error())
			return
		}
		c.SignatureValue = CheckFailed
		s.setVerdict(TotalFailed, SigCryptoFailure, "the signature value does not verify with the signer's public key")
		return
	}
	c.SignatureValue = CheckPassed
	s.cryptoOK = true
	d.checkSigningCertAttr(s, si, cert)
	if n := cms.CountAttr(si.UnsignedAttrs, cms.OIDAttrTimeStampToken); n > 0 {
		vals, _ := cms.Attr(si.UnsignedAttrs, cms.OIDAttrTimeStampToken)
		for _, tok := range vals {
			ts := d.checkToken(tok, si.Signature, "signature")
			s.rep.Timestamps = append(s.rep.Timestamps, ts.Timestamp)
			s.tokens = append(s.tokens, token{len(s.rep.Timestamps) - 1, ts.chain})
			if ts.Valid {
				s.sigTS = true
			}
			if ts.Valid && ts.Trusted {
				s.poe = append(s.poe, poe{"signature time-stamp", ts.Time})
			}
		}
	}
	if v, ok := cms.Attr(si.SignedAttrs, cms.OIDAttrAdbeRevocation); ok && len(v) > 0 {
		d.rev.addAdbe(v[0])
	}
	if t, ok := si.SigningTime(); ok && !s.legacy {
		s.finding("the CMS carries a signing-time attribute, which PAdES baseline forbids (the time belongs in /M)")
		_ = t
	} else if ok && s.rep.ClaimedTime == nil {
		t = t.UTC()
		s.rep.ClaimedTime = &t
	}
}

type tsResult struct {
	Timestamp
	cert  *x509.Certificate
	chain []*x509.Certificate
}

// checkDocTimestamp validates a document time-stamp (ETSI.RFC3161).
func (d *doc) checkDocTimestamp(s *sig) {
	c := &s.rep.Checks
	sd, err := cms.Parse(s.contents)
	if err != nil {
		s.setVerdict(TotalFailed, FormatFailure, "parse time-stamp token: "+err.Error())
		return
	}
	if len(sd.Signers) != 1 {
		s.setVerdict(TotalFailed, FormatFailure, fmt.Sprintf("parse time-stamp token: %d SignerInfos", len(sd.Signers)))
		return
	}
	tst, err := cms.ParseTSTInfo(sd.Content)
	if err != nil {
		s.setVerdict(TotalFailed, FormatFailure, "parse time-stamp token: "+err.Error())
		return
	}
	s.rep.DigestAlgorithm = tst.Hash.String()
	digest, err := d.digestRanges(s.br, tst.Hash)
	if err != nil {
		s.setVerdict(Indeterminate, Generic, "hash byte range: "+err.Error())
		return
	}
	if !bytes.Equal(digest, tst.HashedMessage) {
		c.Digest = CheckFailed
		s.setVerdict(TotalFailed, HashFailure, "the time-stamp imprint does not match the digest of the byte range")
		return
	}
	c.Digest = CheckPassed
	s.hashOK = true
	ts := d.checkToken(s.contents, nil, "document")
	s.rep.Timestamps = append(s.rep.Timestamps, ts.Timestamp)
	s.tokens = append(s.tokens, token{len(s.rep.Timestamps) - 1, ts.chain})
	s.rep.SignatureAlgorithm = sd.Signers[0].Algorithm()
	if ts.cert != nil {
		s.rep.Signer = ptr(certSummary(ts.cert))
		s.cert = ts.cert
	}
	if !ts.Valid {
		if ts.cert == nil {
			s.setVerdict(Indeterminate, NoSigningCertificate, "time-stamp: "+ts.Problem)
			return
		}
		c.SignatureValue = CheckFailed
		s.setVerdict(TotalFailed, SigCryptoFailure, "time-stamp: "+ts.Problem)
		return
	}
	c.SignatureValue = CheckPassed
	c.SigningCertificate = CheckPassed
	s.cryptoOK = true
	t := ts.Time
	s.rep.ClaimedTime = &t
	s.poe = append(s.poe, poe{"document time-stamp", ts.Time})
}

// checkToken checks an RFC 3161 token. When imprintOf is non-nil the
// token's imprint must be the hash of it (a signature time-stamp).
func (d *doc) checkToken(tok, imprintOf []byte, kind string) tsResult {
	res := tsResult{Timestamp: Timestamp{Kind: kind}}
	sd, err := cms.Parse(tok)
	if err != nil {
		res.Problem = "parse token: " + err.Error()
		return res
	}
	d.pool.add(sd.Certificates...)
	d.rev.addCMS(sd)
	if len(sd.Signers) != 1 || !sd.ContentType.Equal(cms.OIDTSTInfo) {
		res.Problem = "token is not a single-signer TSTInfo"
		return res
	}
	tst, err := cms.ParseTSTInfo(sd.Content)
	if err != nil {
		res.Problem = err.Error()
		return res
	}
	res.Time = tst.GenTime.UTC()
	si := &sd.Signers[0]
	cert := si.FindCertificate(sd.Certificates)
	if cert == nil {
		cert = si.FindCertificate(d.pool.certs)
	}
	if cert == nil {
		res.Problem = "the TSA certificate is not in the token"
		return res
	}
	res.cert = cert
	res.TSA = cert.Subject.String()
	if imprintOf != nil {
		hh := tst.Hash.New()
		hh.Write(imprintOf)
		if !bytes.Equal(hh.Sum(nil), tst.HashedMessage) {
			res.Problem = "the token's imprint does not match the signature value"
			return res
		}
	}
	h, ok := cms.HashFromOID(si.DigestAlg)
	if !ok {
		res.Problem = "unsupported digest algorithm in the token"
		return res
	}
	md, err := si.MessageDigest()
	if err != nil {
		res.Problem = err.Error()
		return res
	}
	hh := h.New()
	hh.Write(sd.Content)
	if !bytes.Equal(hh.Sum(nil), md) {
		res.Problem = "the token's message-digest does not match its TSTInfo"
		return res
	}
	if err := si.VerifySignature(cert.PublicKey, si.SignedBytes(sd.Content)); err != nil {
		res.Problem = "the token's signature does not verify: " + err.Error()
		return res
	}
	res.Valid = true
	chain, trusted, _ := d.buildChain(cert)
	res.chain = chain
	res.Trusted = trusted && validAt(chain, res.Time)
	if !res.Trusted {
		if trusted {
			res.Problem = "the TSA certificate was not valid at the time-stamp's time"
		} else {
			res.Problem = "the TSA certificate does not chain to a trust anchor"
		}
	}
	return res
}

func validAt(chain []*x509.Certificate, t time.Time) bool {
	for _, c := range chain {
		if t.Before(c.NotBefore) || t.After(c.NotAfter) {
			return false
		}
	}
	return true
}

// checkSigningCertAttr checks signing-certificate(-v2) against cert.
func (d *doc) checkSigningCertAttr(s *sig, si *cms.SignerInfo, cert *x509.Certificate) {
	c := &s.rep.Checks
	v2, ok2 := cms.Attr(si.SignedAttrs, cms.OIDAttrSigningCertV2)
	v1, ok1 := cms.Attr(si.SignedAttrs, cms.OIDAttrSigningCert)
	if !ok1 && !ok2 {
		if !s.legacy {
			s.finding("no signing-certificate-v2 attribute: the signature does not reach PAdES B-B")
		}
		c.SigningCertificate = CheckNotChecked
		return
	}
	var val []byte
	v2form := ok2
	if ok2 && len(v2) > 0 {
		val = v2[0]
	} else if len(v1) > 0 {
		val = v1[0]
	}
	h, want, err := firstCertHash(val, v2form)
	if err == nil && !h.Available() {
		err = fmt.Errorf("hash %v unavailable", h)
	}
	if err != nil {
		c.SigningCertificate = CheckFailed
		s.setVerdict(TotalFailed, FormatFailure, "signing-certificate attribute: "+err.Error())
		return
	}
	hh := h.New()
	hh.Write(cert.Raw)
	if !bytes.Equal(hh.Sum(nil), want) {
		c.SigningCertificate = CheckFailed
		s.setVerdict(Indeterminate, NoSigningCertificate, "the signing-certificate attribute names another certificate than the one that signed")
		return
	}
	c.SigningCertificate = CheckPassed
}

// firstCertHash reads the first ESSCertID(v2) of a SigningCertificate(V2).
func firstCertHash(val []byte, v2 bool) (crypto.Hash, []byte, error) {
	s := cryptobyte.String(val)
	var seq, ids, id cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1(&ids, cbasn1.SEQUENCE) || !ids.ReadASN1(&id, cbasn1.SEQUENCE) {
		return 0, nil, fmt.Errorf("malformed")
	}
	h := crypto.SHA1
	if v2 {
		h = crypto.SHA256
		if id.PeekASN1Tag(cbasn1.SEQUENCE) {
			var alg cryptobyte.String
			var oid asn1.ObjectIdentifier
			if !id.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
				return 0, nil, fmt.Errorf("malformed hash algorithm")
			}
			var ok bool
			if h, ok = cms.HashFromOID(oid); !ok {
				return 0, nil, fmt.Errorf("unsupported hash %v", oid)
			}
		}
	}
	var hv cryptobyte.String
	if !id.ReadASN1(&hv, cbasn1.OCTET_STRING) {
		return 0, nil, fmt.Errorf("malformed certificate hash")
	}
	return h, hv, nil
}

// checkByteRange checks that br starts at 0, covers its revision except
// exactly the /Contents hex string, and stays inside the file; it reads
// /Contents from the gap.
func (d *doc) checkByteRange(s *sig) error {
	br := s.br
	if len(br) != 4 {
		return fmt.Errorf("%d numbers, want 4", len(br))
	}
	a, b, c, l := br[0], br[1], br[2], br[3]
	switch {
	case a != 0:
		return fmt.Errorf("starts at %d, not 0", a)
	case b < 0 || c < 0 || l < 0:
		return fmt.Errorf("negative offset or length")
	case c < b:
		return fmt.Errorf("second range starts at %d, inside the first (ends at %d): overlap", c, b)
	case c+l > d.size || c+l < c:
		return fmt.Errorf("ends at %d, past the end of the file (%d bytes)", c+l, d.size)
	case c-b < 2:
		return fmt.Errorf("no room for /Contents between the ranges")
	case c-b-2 > int64(2*d.lim.MaxCMSSize)+64:
		return fmt.Errorf("/Contents of %d hex digits (limit %d bytes)", c-b-2, d.lim.MaxCMSSize)
	}
	if s.rev < 0 {
		return fmt.Errorf("ends at %d, which is not the end of a revision: part of its revision is not signed", c+l)
	}
	gap := make([]byte, c-b)
	if _, err := d.r.ReadAt(gap, b); err != nil {
		return fmt.Errorf("read /Contents: %v", err)
	}
	if gap[0] != '<' || gap[len(gap)-1] != '>' {
		return fmt.Errorf("the gap [%d, %d) is not exactly the /Contents hex string: it has a gap or holds other bytes", b, c)
	}
	raw := make([]byte, 0, len(gap)/2)
	var hi byte
	odd := false
	for _, ch := range gap[1 : len(gap)-1] {
		v, ok := hexVal(ch)
		if !ok {
			if ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t' {
				continue
			}
			return fmt.Errorf("the gap holds %q, not only the /Contents hex string", ch)
		}
		if odd {
			raw = append(raw, hi<<4|v)
		} else {
			hi = v
		}
		odd = !odd
	}
	if odd {
		raw = append(raw, hi<<4)
	}
	if s.contents != nil && !bytes.Equal(bytes.TrimRight(raw, "\x00"), bytes.TrimRight(s.contents, "\x00")) {
		return fmt.Errorf("the bytes in the gap are not the dictionary's /Contents")
	}
	s.contents = raw
	sum := sha256.Sum256(bytes.TrimRight(raw, "\x00"))
	s.rep.ContentsSHA256 = hex.EncodeToString(sum[:])
	// The signature dictionary itself must lie in the signed part.
	return nil
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// digestRanges hashes the two byte ranges of br.
func (d *doc) digestRanges(br []int64, h crypto.Hash) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("hash %v unavailable", h)
	}
	hh := h.New()
	buf := make([]byte, 64<<10)
	for _, rg := range [][2]int64{{br[0], br[1]}, {br[2], br[3]}} {
		if _, err := io.CopyBuffer(hh, io.NewSectionReader(d.r, rg[0], rg[1]), buf); err != nil {
			return nil, err
		}
		if err := d.ctx.Err(); err != nil {
			return nil, err
		}
	}
	return hh.Sum(nil), nil
}

func sha1Ranges(d *doc, br []int64) []byte {
	out, err := d.digestRanges(br, crypto.SHA1)
	if err != nil {
		return nil
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// checkX509RSASHA1 checks a legacy adbe.x509.rsa_sha1 signature: /Contents
// is a PKCS#1 signature (an OCTET STRING) over the SHA-1 digest of the
// byte range, and /Cert holds the certificates.
func (d *doc) checkX509RSASHA1(s *sig) {
	c := &s.rep.Checks
	var certs []*x509.Certificate
	add := func(o pdf.Object) {
		if b, ok := o.(pdf.String); ok {
			if cert, err := x509.ParseCertificate(b); err == nil {
				certs = append(certs, cert)
			}
		}
	}
	switch v := s.dict["Cert"].(type) {
	case pdf.Array:
		for i, e := range v {
			if i < 64 {
				add(e)
			}
		}
	default:
		add(v)
	}
	if len(certs) == 0 {
		s.setVerdict(Indeterminate, NoSigningCertificate, "no certificate in /Cert")
		return
	}
	d.pool.add(certs...)
	in := cryptobyte.String(s.contents)
	var sigVal cryptobyte.String
	if !in.ReadASN1(&sigVal, cbasn1.OCTET_STRING) {
		s.setVerdict(TotalFailed, FormatFailure, "adbe.x509.rsa_sha1: /Contents is not an OCTET STRING")
		return
	}
	cert := certs[0]
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		s.setVerdict(TotalFailed, FormatFailure, "adbe.x509.rsa_sha1: the certificate key is not RSA")
		return
	}
	s.rep.Signer = ptr(certSummary(cert))
	s.cert = cert
	s.rep.DigestAlgorithm, s.rep.SignatureAlgorithm = "SHA-1", "RSA-SHA-1"
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		digest, err := d.digestRanges(s.br, h)
		if err != nil {
			s.setVerdict(Indeterminate, Generic, "hash byte range: "+err.Error())
			return
		}
		if rsa.VerifyPKCS1v15(pub, h, digest, sigVal) == nil {
			c.Digest, c.SignatureValue = CheckPassed, CheckPassed
			s.hashOK, s.cryptoOK = true, true
			s.rep.DigestAlgorithm, s.rep.SignatureAlgorithm = h.String(), "RSA-"+h.String()
			return
		}
	}
	// The signature value and the digest cannot be told apart here.
	c.SignatureValue = CheckFailed
	s.setVerdict(TotalFailed, SigCryptoFailure, "the signature value does not verify over the byte range")
}
