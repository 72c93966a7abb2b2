// Package testpki builds a complete, throw-away PKI for tests: a root CA,
// an issuing CA, a signer certificate, a time-stamping unit served by
// Thiqa's own RFC 3161 authority (internal/tsp), an OCSP responder and CRLs,
// all on httptest servers bound to 127.0.0.1, at a pinned clock. The
// certificates' AIA and CRL distribution points name those servers, so a
// signer that fetches revocation data over HTTP finds it.
//
// It is imported only from tests. It must not import production packages
// other than internal/tsp, and the lead may reimplement it on top of the
// ca package with the same API.
package testpki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/tsp"
	"golang.org/x/crypto/ocsp"
)

// KeyType selects the signer's key.
type KeyType int

// Key types for the signer certificate.
const (
	ECDSAP256 KeyType = iota // default
	ECDSAP384
	RSA2048 // PKCS#1 v1.5 signatures
	RSAPSS  // an RSA key meant to sign with PSS (the certificate is the same)
	RSA3072 // a larger RSA key, for long-chain and size tests
)

// DefaultNow returns the pinned clock used when Options.Now is zero:
// 2026-06-01 10:00 UTC.
func DefaultNow() time.Time { return time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC) }

// Options configure [New]. The zero value gives an ECDSA P-256 signer at
// [DefaultNow].
type Options struct {
	Key KeyType
	Now time.Time
	// SignerName is the signer's common name; default "Test Signer".
	SignerName string
}

// PKI is the test PKI. Certificates are valid from a day before Now for
// ten years, so external checkers that use the real clock accept them too.
type PKI struct {
	Now time.Time

	Root, CA             *x509.Certificate
	RootKey, CAKey       crypto.Signer
	Signer               *x509.Certificate
	SignerKey            crypto.Signer
	TSA                  *x509.Certificate
	TSAKey               crypto.Signer
	OCSPResponder        *x509.Certificate
	OCSPKey              crypto.Signer
	Authority            *tsp.Authority // Thiqa's TSA, usable in process
	TSAURL, OCSPURL      string
	CACRLURL, RootCRLURL string

	mu      sync.Mutex
	revoked map[string]time.Time // serial (decimal) -> revocation time
	serial  int64
	hits    map[string]int
}

var (
	oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
	oidEKU         = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidTimeStamp   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	testPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 1}
)

// New builds the PKI and starts its servers; they stop when t ends.
func New(t testing.TB, opts *Options) *PKI {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now.IsZero() {
		o.Now = DefaultNow()
	}
	if o.SignerName == "" {
		o.SignerName = "Test Signer"
	}
	p := &PKI{Now: o.Now, revoked: map[string]time.Time{}, hits: map[string]int{}}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p.TSAURL = srv.URL + "/tsa"
	p.OCSPURL = srv.URL + "/ocsp"
	p.CACRLURL = srv.URL + "/ca.crl"
	p.RootCRLURL = srv.URL + "/root.crl"

	p.RootKey = ecKey(t, elliptic.P384())
	p.Root = p.issue(t, nil, nil, p.RootKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "Thiqa Test Root CA", Country: []string{"JO"}, Organization: []string{"Thiqa Test"}},
		IsCA:    true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	})
	p.CAKey = ecKey(t, elliptic.P256())
	p.CA = p.issue(t, p.Root, p.RootKey, p.CAKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "Thiqa Test Issuing CA", Country: []string{"JO"}, Organization: []string{"Thiqa Test"}},
		IsCA:    true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		CRLDistributionPoints: []string{p.RootCRLURL},
	})
	p.SignerKey = signerKey(t, o.Key)
	p.Signer = p.leaf(t, p.SignerKey, &x509.Certificate{
		Subject:  pkix.Name{CommonName: o.SignerName, Country: []string{"JO"}, SerialNumber: "PNOJO-9991234567"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	})
	p.TSAKey = ecKey(t, elliptic.P256())
	ekuTS, _ := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamp})
	p.TSA = p.leaf(t, p.TSAKey, &x509.Certificate{
		Subject:         pkix.Name{CommonName: "Thiqa Test TSU", Country: []string{"JO"}},
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: oidEKU, Critical: true, Value: ekuTS}},
	})
	p.OCSPKey = ecKey(t, elliptic.P256())
	p.OCSPResponder = p.issue(t, p.CA, p.CAKey, p.OCSPKey, &x509.Certificate{
		Subject:         pkix.Name{CommonName: "Thiqa Test OCSP Responder", Country: []string{"JO"}},
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		ExtraExtensions: []pkix.Extension{{Id: oidOCSPNoCheck, Value: []byte{5, 0}}},
	})
	a, err := tsp.New(p.TSAKey, p.TSA, []*x509.Certificate{p.CA, p.Root}, tsp.Options{
		Policy: testPolicy, Clock: func() time.Time { return p.Now },
	})
	if err != nil {
		t.Fatalf("testpki: tsa: %v", err)
	}
	p.Authority = a
	mux.Handle("/tsa", p.count("tsa", a))
	mux.Handle("/ocsp", p.count("ocsp", http.HandlerFunc(p.serveOCSP)))
	mux.Handle("/ca.crl", p.count("crl", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.serveCRL(w, p.CA, p.CAKey)
	})))
	mux.Handle("/root.crl", p.count("crl", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.serveCRL(w, p.Root, p.RootKey)
	})))
	return p
}

// Chain returns the signer's chain: the issuing CA and the root.
func (p *PKI) Chain() []*x509.Certificate { return []*x509.Certificate{p.CA, p.Root} }

// Roots returns a pool holding the root.
func (p *PKI) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.Root)
	return pool
}

// Revoke marks cert revoked at time at; OCSP and CRLs report it from then.
func (p *PKI) Revoke(cert *x509.Certificate, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.revoked[cert.SerialNumber.String()] = at
}

// Hits returns how many requests the "tsa", "ocsp" or "crl" server got.
func (p *PKI) Hits(server string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[server]
}

// IssueSigner issues another signer certificate and key of the given type
// under the issuing CA.
func (p *PKI) IssueSigner(t testing.TB, kt KeyType, name string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := signerKey(t, kt)
	cert := p.leaf(t, key, &x509.Certificate{
		Subject:  pkix.Name{CommonName: name, Country: []string{"JO"}},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	})
	return cert, key
}

func (p *PKI) count(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.hits[name]++
		p.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (p *PKI) leaf(t testing.TB, key crypto.Signer, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	tmpl.OCSPServer = []string{p.OCSPURL}
	tmpl.IssuingCertificateURL = nil
	tmpl.CRLDistributionPoints = []string{p.CACRLURL}
	return p.issue(t, p.CA, p.CAKey, key, tmpl)
}

func (p *PKI) issue(t testing.TB, parent *x509.Certificate, parentKey, key crypto.Signer, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	p.mu.Lock()
	p.serial++
	tmpl.SerialNumber = big.NewInt(0x7100 + p.serial)
	p.mu.Unlock()
	tmpl.NotBefore = p.Now.Add(-24 * time.Hour)
	tmpl.NotAfter = p.Now.AddDate(10, 0, 0)
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	var spki struct {
		Alg asn1.RawValue
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(pubDER, &spki); err != nil {
		t.Fatalf("testpki: %v", err)
	}
	ski := sha1.Sum(spki.Key.Bytes)
	tmpl.SubjectKeyId = ski[:]
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatalf("testpki: create certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return c
}

// OCSPResponse returns a DER OCSP response for cert (issued by the issuing
// CA), made in process as the OCSP server would answer.
func (p *PKI) OCSPResponse(cert *x509.Certificate) ([]byte, error) {
	return p.ocspResponse(cert.SerialNumber, crypto.SHA1)
}

// CRL returns the current DER CRL of issuer (p.CA or p.Root).
func (p *PKI) CRL(issuer *x509.Certificate) ([]byte, error) {
	key := p.CAKey
	if issuer.Equal(p.Root) {
		key = p.RootKey
	}
	return p.crl(issuer, key)
}

func (p *PKI) serveOCSP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	var err error
	if r.Method == http.MethodPost {
		body, err = io.ReadAll(io.LimitReader(r.Body, 1<<16))
	} else {
		err = fmt.Errorf("GET not supported")
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req, err := ocsp.ParseRequest(body)
	if err != nil {
		w.Write(ocsp.MalformedRequestErrorResponse)
		return
	}
	resp, err := p.ocspResponse(req.SerialNumber, req.HashAlgorithm)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Write(resp)
}

func (p *PKI) ocspResponse(serial *big.Int, h crypto.Hash) ([]byte, error) {
	tmpl := ocsp.Response{
		Status:       ocsp.Good,
		SerialNumber: serial,
		// x/crypto/ocsp sets producedAt to the wall clock truncated to the
		// minute; thisUpdate must not follow it when Now is the wall clock.
		ThisUpdate:  p.Now.Add(-time.Minute).Truncate(time.Minute),
		NextUpdate:  p.Now.Add(24 * time.Hour),
		ProducedAt:  p.Now,
		Certificate: p.OCSPResponder,
		IssuerHash:  h,
	}
	p.mu.Lock()
	at, revoked := p.revoked[serial.String()]
	p.mu.Unlock()
	if revoked {
		tmpl.Status = ocsp.Revoked
		tmpl.RevokedAt = at
		tmpl.RevocationReason = ocsp.KeyCompromise
	}
	return ocsp.CreateResponse(p.CA, p.OCSPResponder, tmpl, p.OCSPKey)
}

func (p *PKI) serveCRL(w http.ResponseWriter, issuer *x509.Certificate, key crypto.Signer) {
	crl, err := p.crl(issuer, key)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Write(crl)
}

func (p *PKI) crl(issuer *x509.Certificate, key crypto.Signer) ([]byte, error) {
	p.mu.Lock()
	var entries []x509.RevocationListEntry
	for s, at := range p.revoked {
		n, _ := new(big.Int).SetString(s, 10)
		entries = append(entries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: at})
	}
	p.mu.Unlock()
	return x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(p.Now.Unix()),
		ThisUpdate:                p.Now,
		NextUpdate:                p.Now.Add(7 * 24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, issuer, key)
}

func ecKey(t testing.TB, c elliptic.Curve) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return k
}

func signerKey(t testing.TB, kt KeyType) crypto.Signer {
	t.Helper()
	switch kt {
	case ECDSAP384:
		return ecKey(t, elliptic.P384())
	case RSA2048, RSAPSS, RSA3072:
		bits := 2048
		if kt == RSA3072 {
			bits = 3072
		}
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatalf("testpki: %v", err)
		}
		return k
	}
	return ecKey(t, elliptic.P256())
}

// Token returns a time-stamp token from the in-process authority; it is a
// convenience for tests that bypass HTTP.
func (p *PKI) Token(ctx context.Context, h crypto.Hash, digest []byte) ([]byte, error) {
	return p.Authority.Token(ctx, h, digest)
}
