package signer

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
	"github.com/thiqa/thiqa/signer/internal/pdf"
	"golang.org/x/crypto/cryptobyte"
)

// Renewed is the result of [Renew]: the input followed by a /DSS revision
// and a new document time-stamp.
type Renewed struct {
	base io.ReaderAt
	size int64
	tail []byte
}

// WriteTo writes the renewed PDF.
func (r *Renewed) WriteTo(w io.Writer) (int64, error) {
	return writeDocument(w, r.base, r.size, r.tail)
}

// Renew extends the validity of a B-LTA (or B-LT) document: it adds fresh
// validation data for every signature and document time-stamp in the file
// (their certificates, OCSP responses and CRLs, in /DSS) and then a new
// document time-stamp over everything. Only opts' Timestamper,
// TimestampReserve, Revocation, ExtraCertificates, Hash and Clock are used.
func Renew(ctx context.Context, r io.ReaderAt, size int64, opts *Options) (*Renewed, error) {
	if opts == nil || opts.Timestamper == nil || opts.Revocation == nil {
		return nil, fmt.Errorf("%w: renewal needs a Timestamper and a RevocationSource", ErrOptions)
	}
	o := *opts
	if o.Hash == 0 {
		o.Hash = defaultHash
	}
	rd, err := pdf.Open(r, size, nil)
	if err != nil {
		return nil, fmt.Errorf("read pdf: %w", err)
	}
	certs, tokens, err := embeddedEvidence(rd)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 && len(tokens) == 0 {
		return nil, fmt.Errorf("%w: the document has no signature to renew", ErrOptions)
	}
	for _, tok := range tokens {
		t, err := timestamp.Parse(tok)
		if err != nil {
			return nil, fmt.Errorf("%w: parse embedded token: %v", ErrTimestamp, err)
		}
		certs = append(certs, t.Certificates...)
	}
	tail, err := addValidationData(ctx, r, size, nil, &o, certs, nil)
	if err != nil {
		return nil, err
	}
	tail, err = addDocTimestamp(ctx, r, size, tail, &o)
	if err != nil {
		return nil, err
	}
	return &Renewed{base: r, size: size, tail: tail}, nil
}

// embeddedEvidence returns the certificates of every CAdES signature and
// the tokens of every signature and document time-stamp of the document.
func embeddedEvidence(rd *pdf.Reader) ([]*x509.Certificate, [][]byte, error) {
	af, _, err := rd.AcroForm()
	if err != nil || af == nil {
		return nil, nil, err
	}
	fields, err := rd.GetArray(af["Fields"])
	if err != nil {
		return nil, nil, fmt.Errorf("read /AcroForm /Fields: %w", err)
	}
	var certs []*x509.Certificate
	var tokens [][]byte
	for i, f := range fields {
		if i >= maxFields {
			break
		}
		fd, err := rd.GetDict(f)
		if err != nil || fd == nil || fd["FT"] != pdf.Name("Sig") {
			continue
		}
		v, err := rd.GetDict(fd["V"])
		if err != nil || v == nil {
			continue
		}
		contents, _ := v["Contents"].(pdf.String)
		der := derPrefix(contents)
		if der == nil {
			continue
		}
		if v["SubFilter"] == pdf.Name("ETSI.RFC3161") {
			tokens = append(tokens, der)
			continue
		}
		p7, err := pkcs7.Parse(der)
		if err != nil {
			return nil, nil, fmt.Errorf("parse signature %q: %w", fd["T"], err)
		}
		certs = append(certs, p7.Certificates...)
		for _, s := range p7.Signers {
			for _, a := range s.UnauthenticatedAttributes {
				if a.Type.Equal(oidAttrTimeStamp) {
					if tok := derPrefix(a.Value.Bytes); tok != nil {
						tokens = append(tokens, tok)
					}
				}
			}
		}
	}
	return certs, tokens, nil
}

// derPrefix returns the DER element at the start of b (a /Contents value
// padded with zeros), or nil.
func derPrefix(b []byte) []byte {
	s := cryptobyte.String(b)
	var el cryptobyte.String
	if !s.ReadASN1Element(&el, 0x30) {
		return nil
	}
	return el
}
