package signer

import (
	"bytes"
	"crypto/x509"
	"testing"

	"golang.org/x/crypto/ocsp"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// dssContents reads the /DSS of a signed file.
func dssContents(t *testing.T, b []byte) (certs []*x509.Certificate, ocsps []*ocsp.Response, crls []*x509.RevocationList) {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(b), int64(len(b)), &pdf.Options{NoRecover: true})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := rd.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	dss, err := rd.GetDict(cat["DSS"])
	if err != nil || dss == nil {
		t.Fatalf("no /DSS: %v", err)
	}
	streams := func(key pdf.Name) [][]byte {
		arr, err := rd.GetArray(dss[key])
		if err != nil {
			t.Fatalf("/DSS /%s: %v", key, err)
		}
		var out [][]byte
		for _, e := range arr {
			o, err := rd.Resolve(e)
			if err != nil {
				t.Fatalf("/DSS /%s: %v", key, err)
			}
			s, ok := o.(*pdf.Stream)
			if !ok {
				t.Fatalf("/DSS /%s holds a %T, not a stream", key, o)
			}
			data, err := rd.StreamData(s)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, data)
		}
		return out
	}
	for _, der := range streams("Certs") {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("/DSS /Certs: %v", err)
		}
		certs = append(certs, c)
	}
	for _, der := range streams("OCSPs") {
		r, err := ocsp.ParseResponse(der, nil)
		if err != nil {
			t.Fatalf("/DSS /OCSPs: %v", err)
		}
		ocsps = append(ocsps, r)
	}
	for _, der := range streams("CRLs") {
		c, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatalf("/DSS /CRLs: %v", err)
		}
		crls = append(crls, c)
	}
	return certs, ocsps, crls
}

// TestDSSCoversBothChains checks the B-LT validation data (issue 4: "a
// /DSS dictionary with every certificate, OCSP response and CRL needed for
// the signer chain and the TSA chain, revocation data obtained after the
// signature time-stamp") with a time-stamping authority under a PKI of its
// own, so the two chains share nothing: every certificate of both chains
// is in /DSS, and every certificate but the roots has revocation data
// there, an OCSP response for its serial signed for its issuer or a CRL
// signed by its issuer, none produced before the signature time-stamp.
func TestDSSCoversBothChains(t *testing.T) {
	p := testpki.New(t, nil)
	tsa := testpki.New(t, &testpki.Options{Now: p.Now, SignerName: "Unused"})
	o := options(p, LevelBLT)
	o.Timestamper = TimestamperFunc(tsa.Authority.Token)
	out := signBytes(t, makePDF(t, 2000, false), p.SignerKey, o)
	pdfsig(t, writeTemp(t, out), 1, false)
	certs, ocsps, crls := dssContents(t, out)

	has := func(c *x509.Certificate) bool {
		for _, d := range certs {
			if d.Equal(c) {
				return true
			}
		}
		return false
	}
	// The time of the signature time-stamp: the TSA's clock.
	tsTime := tsa.Now
	revocationOf := func(c, issuer *x509.Certificate) string {
		for _, r := range ocsps {
			// ocsp.ParseResponse has checked the signature by the
			// embedded responder certificate, if any; that certificate
			// (or the response itself) must be signed by the issuer.
			signed := r.CheckSignatureFrom(issuer) == nil || r.Certificate != nil && r.Certificate.CheckSignatureFrom(issuer) == nil
			if r.SerialNumber.Cmp(c.SerialNumber) == 0 && signed {
				if r.ProducedAt.Before(tsTime) {
					return "OCSP response produced at " + r.ProducedAt.String() + ", before the time-stamp"
				}
				if r.Status != ocsp.Good {
					return "OCSP status not good"
				}
				return ""
			}
		}
		for _, crl := range crls {
			if crl.CheckSignatureFrom(issuer) == nil {
				if crl.ThisUpdate.Before(tsTime) {
					return "CRL of " + issuer.Subject.CommonName + " issued before the time-stamp"
				}
				return ""
			}
		}
		return "no OCSP response or CRL"
	}
	for _, ch := range []struct {
		name  string
		chain []*x509.Certificate // leaf first, root last
	}{
		{"signer", []*x509.Certificate{p.Signer, p.CA, p.Root}},
		{"TSA", []*x509.Certificate{tsa.TSA, tsa.CA, tsa.Root}},
	} {
		for i, c := range ch.chain {
			if !has(c) && i < len(ch.chain)-1 {
				t.Errorf("%s chain: %s not in /DSS /Certs", ch.name, c.Subject.CommonName)
			}
			if i == len(ch.chain)-1 {
				continue // a trust anchor needs no revocation data
			}
			if msg := revocationOf(c, ch.chain[i+1]); msg != "" {
				t.Errorf("%s chain: %s: %s", ch.name, c.Subject.CommonName, msg)
			}
		}
	}
	t.Logf("/DSS: %d certificates, %d OCSP responses, %d CRLs", len(certs), len(ocsps), len(crls))
}
