package signer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"io"

	"github.com/thiqa/thiqa/signer/internal/pdf"
)

var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// validationData is what goes into /DSS.
type validationData struct {
	certs [][]byte
	ocsps [][]byte
	crls  [][]byte
}

// collectValidationData fetches revocation data for every certificate of
// certs and of their chains, skipping trust anchors (issuer = subject)
// and OCSP responders with id-pkix-ocsp-nocheck. At most 256 certificates
// are looked at.
func collectValidationData(ctx context.Context, o *Options, certs []*x509.Certificate) (*validationData, error) {
	pool := append(append([]*x509.Certificate(nil), certs...), o.ExtraCertificates...)
	vd := &validationData{}
	seen := map[[32]byte]bool{}
	queue := append([]*x509.Certificate(nil), certs...)
	for i := 0; i < len(queue) && i < 256; i++ {
		c := queue[i]
		h := sha256.Sum256(c.Raw)
		if seen[h] {
			continue
		}
		seen[h] = true
		vd.certs = append(vd.certs, c.Raw)
		if isSelfSigned(c) || hasExtension(c, oidOCSPNoCheck) {
			continue
		}
		issuer := findIssuer(c, pool)
		if issuer == nil {
			return nil, fmt.Errorf("%w: no issuer certificate for %q", ErrRevocation, c.Subject.CommonName)
		}
		rv, err := o.Revocation.Revocation(ctx, c, issuer)
		if err != nil {
			return nil, err
		}
		vd.ocsps = append(vd.ocsps, rv.OCSP...)
		vd.crls = append(vd.crls, rv.CRLs...)
		queue = append(queue, issuer)
		pool = append(pool, rv.Certs...)
		queue = append(queue, rv.Certs...)
	}
	return vd, nil
}

// isSelfSigned reports whether c names itself as issuer: such a
// certificate is a trust anchor and needs no revocation data. The
// signature is not checked (validation does that); skipping it keeps an
// expensive P-384 or RSA verification off the signing path.
func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject)
}

func hasExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}

// findIssuer returns the certificate of pool that issued c: the subject
// and key identifier must match, and the signature is checked only when
// several candidates do.
func findIssuer(c *x509.Certificate, pool []*x509.Certificate) *x509.Certificate {
	var cands []*x509.Certificate
	for _, p := range pool {
		if !bytes.Equal(p.RawSubject, c.RawIssuer) {
			continue
		}
		if len(c.AuthorityKeyId) > 0 && len(p.SubjectKeyId) > 0 && !bytes.Equal(c.AuthorityKeyId, p.SubjectKeyId) {
			continue
		}
		if len(cands) > 0 && cands[0].Equal(p) {
			continue
		}
		cands = append(cands, p)
	}
	if len(cands) == 1 {
		return cands[0]
	}
	for _, p := range cands {
		if c.CheckSignatureFrom(p) == nil {
			return p
		}
	}
	return nil
}

// addValidationData appends a revision that adds (or extends) /DSS.
func addValidationData(ctx context.Context, base io.ReaderAt, size int64, tail []byte, o *Options, certs, tsaCerts []*x509.Certificate) ([]byte, error) {
	vd, err := collectValidationData(ctx, o, append(append([]*x509.Certificate(nil), certs...), tsaCerts...))
	if err != nil {
		return nil, err
	}
	return appendDSS(base, size, tail, vd)
}

func appendDSS(base io.ReaderAt, size int64, tail []byte, vd *validationData) ([]byte, error) {
	m := &multiReaderAt{base: base, baseSize: size, tail: tail}
	rd, err := pdf.Open(m, m.size(), nil)
	if err != nil {
		return nil, fmt.Errorf("read pdf: %w", err)
	}
	cat, err := rd.Catalog()
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	cat = cat.Clone()
	u := newUpdate(rd)
	dssRef, isRef := cat["DSS"].(pdf.Ref)
	old, err := rd.GetDict(cat["DSS"])
	if err != nil {
		return nil, fmt.Errorf("read /DSS: %w", err)
	}
	dss := pdf.Dict{"Type": pdf.Name("DSS")}
	for k, v := range old {
		dss[k] = v
	}
	for _, part := range []struct {
		key  pdf.Name
		ders [][]byte
	}{{"Certs", vd.certs}, {"OCSPs", vd.ocsps}, {"CRLs", vd.crls}} {
		arr, err := rd.GetArray(old[part.key])
		if err != nil {
			return nil, fmt.Errorf("read /DSS /%s: %w", part.key, err)
		}
		arr = append(pdf.Array(nil), arr...)
		have := map[[32]byte]bool{}
		for _, e := range arr {
			if s, ok := mustResolveStream(rd, e); ok {
				if data, err := rd.StreamData(s); err == nil {
					have[sha256.Sum256(data)] = true
				}
			}
		}
		for _, der := range part.ders {
			h := sha256.Sum256(der)
			if have[h] {
				continue
			}
			have[h] = true
			arr = append(arr, u.add(pdf.NewStream(pdf.Dict{}, der)))
		}
		if len(arr) > 0 {
			dss[part.key] = arr
		}
	}
	if isRef {
		u.set(dssRef, dss)
	} else {
		cat["DSS"] = u.add(dss)
		u.set(u.root, cat)
	}
	upd := u.bytes(m.size(), !endsWithEOL(m, m.size()))
	return append(append(make([]byte, 0, len(tail)+len(upd)), tail...), upd...), nil
}

func mustResolveStream(rd *pdf.Reader, o pdf.Object) (*pdf.Stream, bool) {
	v, err := rd.Resolve(o)
	if err != nil {
		return nil, false
	}
	s, ok := v.(*pdf.Stream)
	return s, ok
}

// addDocTimestamp appends a document time-stamp revision (/SubFilter
// /ETSI.RFC3161).
func addDocTimestamp(ctx context.Context, base io.ReaderAt, size int64, tail []byte, o *Options) ([]byte, error) {
	reserve, err := tokenReserve(ctx, o.Timestamper, o.TimestampReserve, o.Hash)
	if err != nil {
		return nil, err
	}
	spec := revisionSpec{
		dict: func(contentsLen int, _ pdf.Dict) rawObject {
			b := []byte("<</Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161 ")
			b = appendPlaceholders(b, contentsLen)
			return append(b, ">>"...)
		},
		contentsLen: reserve,
		hash:        o.Hash,
		fieldPrefix: "DocTimeStamp",
		time:        o.now(),
		docTS:       true,
	}
	newTail, cStart, cEnd, digest, err := appendRevision(ctx, base, size, tail, spec)
	if err != nil {
		return nil, err
	}
	tok, _, err := requestToken(ctx, o.Timestamper, o.Hash, digest)
	if err != nil {
		return nil, err
	}
	if 2*len(tok) > cEnd-cStart {
		return nil, fmt.Errorf("%w: token of %d bytes, %d reserved", ErrContentsTooSmall, len(tok), (cEnd-cStart)/2)
	}
	hexEncode(newTail[cStart:cEnd], tok)
	return newTail, nil
}
