package signer

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Revocation is validation data for one certificate.
type Revocation struct {
	OCSP [][]byte // DER OCSPResponse
	CRLs [][]byte // DER CertificateList
	// Certs are certificates needed to check the data (OCSP responders).
	Certs []*x509.Certificate
}

// RevocationSource fetches revocation data for cert, issued by issuer.
// [HTTPRevocation] follows the certificate's AIA OCSP URLs and CRL
// distribution points.
type RevocationSource interface {
	Revocation(ctx context.Context, cert, issuer *x509.Certificate) (*Revocation, error)
}

// HTTPRevocation fetches OCSP responses (preferred) and CRLs over HTTP.
// It checks the responses' signatures and refuses a revoked certificate
// with [ErrRevoked].
type HTTPRevocation struct {
	// Client defaults to a client with a 10 s timeout.
	Client *http.Client
	// MaxResponse bounds each download; zero means 16 MiB.
	MaxResponse int64
	// Clock is used to check OCSP and CRL freshness; nil means time.Now.
	Clock func() time.Time
}

var _ RevocationSource = (*HTTPRevocation)(nil)

// Revocation tries each OCSP URL of cert, then each CRL distribution
// point.
func (h *HTTPRevocation) Revocation(ctx context.Context, cert, issuer *x509.Certificate) (*Revocation, error) {
	var errs []error
	for _, u := range cert.OCSPServer {
		rv, err := h.ocsp(ctx, u, cert, issuer)
		if err == nil || errors.Is(err, ErrRevoked) {
			return rv, err
		}
		errs = append(errs, err)
	}
	for _, u := range cert.CRLDistributionPoints {
		rv, err := h.crl(ctx, u, cert, issuer)
		if err == nil || errors.Is(err, ErrRevoked) {
			return rv, err
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("%w: %q has no OCSP URL and no CRL distribution point", ErrRevocation, cert.Subject.CommonName)
	}
	return nil, fmt.Errorf("%w: %q: %w", ErrRevocation, cert.Subject.CommonName, errors.Join(errs...))
}

func (h *HTTPRevocation) now() time.Time {
	if h.Clock != nil {
		return h.Clock()
	}
	return time.Now()
}

func (h *HTTPRevocation) fetch(ctx context.Context, method, url string, body []byte, ctype string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	cl := h.Client
	if cl == nil {
		cl = defaultClient
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	max := h.MaxResponse
	if max <= 0 {
		max = 16 << 20
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: response larger than %d bytes", url, max)
	}
	return b, nil
}

func (h *HTTPRevocation) ocsp(ctx context.Context, url string, cert, issuer *x509.Certificate) (*Revocation, error) {
	req, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return nil, fmt.Errorf("ocsp request: %w", err)
	}
	der, err := h.fetch(ctx, http.MethodPost, url, req, "application/ocsp-request")
	if err != nil {
		return nil, fmt.Errorf("ocsp %s: %w", url, err)
	}
	resp, err := ocsp.ParseResponseForCert(der, cert, issuer)
	if err != nil {
		return nil, fmt.Errorf("ocsp %s: %w", url, err)
	}
	if !resp.NextUpdate.IsZero() && h.now().After(resp.NextUpdate) {
		return nil, fmt.Errorf("ocsp %s: response expired at %v", url, resp.NextUpdate)
	}
	rv := &Revocation{OCSP: [][]byte{der}}
	if resp.Certificate != nil {
		rv.Certs = append(rv.Certs, resp.Certificate)
	}
	switch resp.Status {
	case ocsp.Good:
		return rv, nil
	case ocsp.Revoked:
		return rv, fmt.Errorf("%w: %q at %v", ErrRevoked, cert.Subject.CommonName, resp.RevokedAt)
	}
	return nil, fmt.Errorf("ocsp %s: status unknown", url)
}

func (h *HTTPRevocation) crl(ctx context.Context, url string, cert, issuer *x509.Certificate) (*Revocation, error) {
	der, err := h.fetch(ctx, http.MethodGet, url, nil, "")
	if err != nil {
		return nil, fmt.Errorf("crl %s: %w", url, err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("crl %s: %w", url, err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("crl %s: %w", url, err)
	}
	if !crl.NextUpdate.IsZero() && h.now().After(crl.NextUpdate) {
		return nil, fmt.Errorf("crl %s: expired at %v", url, crl.NextUpdate)
	}
	rv := &Revocation{CRLs: [][]byte{der}}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return rv, fmt.Errorf("%w: %q at %v", ErrRevoked, cert.Subject.CommonName, e.RevocationTime)
		}
	}
	return rv, nil
}
