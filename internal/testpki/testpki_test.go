package testpki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/ocsp"
)

func TestPKI(t *testing.T) {
	for _, kt := range []KeyType{ECDSAP256, ECDSAP384, RSA2048} {
		p := New(t, &Options{Key: kt})
		opts := x509.VerifyOptions{Roots: p.Roots(), Intermediates: x509.NewCertPool(), CurrentTime: p.Now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
		opts.Intermediates.AddCert(p.CA)
		for _, c := range []*x509.Certificate{p.Signer, p.TSA, p.OCSPResponder} {
			if _, err := c.Verify(opts); err != nil {
				t.Fatalf("verify %s: %v", c.Subject.CommonName, err)
			}
		}
	}
}

func TestServers(t *testing.T) {
	p := New(t, nil)
	ctx := context.Background()
	digest := sha256.Sum256([]byte("hello"))
	tok, err := p.Token(ctx, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	ts, err := timestamp.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !ts.Time.Equal(p.Now) || !bytes.Equal(ts.HashedMessage, digest[:]) {
		t.Fatalf("token time %v", ts.Time)
	}
	check := func(want int) {
		t.Helper()
		req, _ := ocsp.CreateRequest(p.Signer, p.CA, nil)
		resp, err := http.Post(p.OCSPURL, "application/ocsp-request", bytes.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		r, err := ocsp.ParseResponseForCert(b, p.Signer, p.CA)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != want {
			t.Fatalf("status %d, want %d", r.Status, want)
		}
	}
	check(ocsp.Good)
	p.Revoke(p.Signer, p.Now.Add(-time.Hour))
	check(ocsp.Revoked)
	resp, err := http.Get(p.CACRLURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(p.CA); err != nil || len(crl.RevokedCertificateEntries) != 1 {
		t.Fatalf("crl: %v, %d entries", err, len(crl.RevokedCertificateEntries))
	}
}
