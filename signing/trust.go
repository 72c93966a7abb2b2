package signing

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sync"

	"golang.org/x/crypto/ocsp"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/signer"
)

// caTrust adapts a *ca.Service to [Trust], in process: its time-stamping
// unit, its OCSP responder for the certificates of the issuing CAs, and
// its CRLs for the issuing CAs' own certificates.
type caTrust struct {
	ca    *ca.Service
	names map[string]string // authority certificate (raw) -> name
	extra []*x509.Certificate

	// good remembers OCSP responses already parsed and checked as "good"
	// (the responder hands out the same pre-signed response until it is
	// due for renewal or the status changes), by the response's SHA-256.
	mu   sync.Mutex
	good map[[32]byte]*x509.Certificate
}

// maxGood bounds the cache of checked OCSP responses.
const maxGood = 100000

// CATrust returns the [Trust] of a certificate authority in this process.
func CATrust(c *ca.Service) Trust {
	t := &caTrust{ca: c, names: map[string]string{}, good: map[[32]byte]*x509.Certificate{}}
	for _, a := range c.Authorities() {
		t.names[string(a.Certificate.Raw)] = a.Name
		t.extra = append(t.extra, a.Certificate)
	}
	return t
}

func (t *caTrust) ExtraCertificates() []*x509.Certificate { return t.extra }

func (t *caTrust) Timestamp(ctx context.Context, h crypto.Hash, digest []byte) ([]byte, error) {
	return t.ca.TSA().Timestamp(ctx, h, digest)
}

// TokenSize lets the signer reserve the exact space of a token.
func (t *caTrust) TokenSize(ctx context.Context, h crypto.Hash) (int, error) {
	return t.ca.TSA().TokenSize(ctx, h)
}

func (t *caTrust) SigningCertificate(ctx context.Context, serial string) (*x509.Certificate, []*x509.Certificate, error) {
	n, err := ca.ParseSerial(serial)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate: %w", err)
	}
	rec, err := t.ca.Lookup(ctx, n)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate: %w", err)
	}
	issuer, err := t.ca.AuthorityCertificate(rec.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate: %w", err)
	}
	above, err := t.ca.Chain(rec.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate: %w", err)
	}
	return cert, append([]*x509.Certificate{issuer}, above...), nil
}

// Revocation answers from the OCSP responder when it knows the
// certificate, else with the issuer's CRL.
func (t *caTrust) Revocation(ctx context.Context, cert, issuer *x509.Certificate) (*signer.Revocation, error) {
	name, ok := t.names[string(issuer.Raw)]
	if !ok {
		return nil, fmt.Errorf("%w: issuer %q is not one of this CA's authorities", signer.ErrRevocation, issuer.Subject.CommonName)
	}
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", signer.ErrRevocation, err)
	}
	if der, err := t.ca.OCSP().Respond(ctx, req); err == nil {
		key := sha256.Sum256(append(append(append([]byte(nil), der...), cert.Raw...), issuer.Raw...))
		t.mu.Lock()
		responder, seen := t.good[key]
		t.mu.Unlock()
		if seen {
			return goodRevocation(der, responder), nil
		}
		if resp, err := ocsp.ParseResponseForCert(der, cert, issuer); err == nil {
			switch resp.Status {
			case ocsp.Good:
				t.mu.Lock()
				if len(t.good) >= maxGood {
					clear(t.good)
				}
				t.good[key] = resp.Certificate
				t.mu.Unlock()
				return goodRevocation(der, resp.Certificate), nil
			case ocsp.Revoked:
				return nil, fmt.Errorf("%w: %s", signer.ErrRevoked, cert.Subject.CommonName)
			}
		}
	}
	crl, err := t.ca.CRL(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%w: CRL of %s: %w", signer.ErrRevocation, name, err)
	}
	return &signer.Revocation{CRLs: [][]byte{crl.DER}}, nil
}

func goodRevocation(der []byte, responder *x509.Certificate) *signer.Revocation {
	rv := &signer.Revocation{OCSP: [][]byte{der}}
	if responder != nil {
		rv.Certs = append(rv.Certs, responder)
	}
	return rv
}
