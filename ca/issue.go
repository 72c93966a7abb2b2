package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/thiqa/thiqa/store"
)

// Request asks for an end-entity certificate.
type Request struct {
	Profile   Profile
	PublicKey crypto.PublicKey
	Subject   Subject
}

// approved is a certificate template that passed the profile checks and
// zlint. It is the only thing issue accepts, and only check makes one: the
// real CA key cannot be reached by a template that was not checked.
type approved struct {
	profile Profile
	issuer  *authority
	tbs     []byte // the linted TBSCertificate
	sigAlg  []byte // DER AlgorithmIdentifier of the signature
	sig     sigSpec
}

// Issue checks req against its profile, lints the certificate, signs it with
// the profile's issuing CA, stores it durably and returns it.
func (s *Service) Issue(ctx context.Context, req Request) (*x509.Certificate, error) {
	for attempt := 0; ; attempt++ {
		ok, err := s.check(req)
		if err != nil {
			return nil, err
		}
		cert, err := s.issue(ctx, ok)
		if errors.Is(err, store.ErrDuplicate) && attempt < 3 {
			continue // a serial collision: draw another
		}
		return cert, err
	}
}

// IssueFromCSR issues from a PKCS#10 request: the CSR proves possession of
// the key and gives the public key; the subject comes from subject, checked
// against the profile (the CSR's own subject is ignored).
func (s *Service) IssueFromCSR(ctx context.Context, profile Profile, csrDER []byte, subject Subject) (*x509.Certificate, error) {
	csr, err := ParseCSR(csrDER)
	if err != nil {
		return nil, err
	}
	return s.Issue(ctx, Request{Profile: profile, PublicKey: csr.PublicKey, Subject: subject})
}

// maxCSRSize bounds the CSRs Thiqa parses.
const maxCSRSize = 16 << 10

// ParseCSR parses a DER (or PEM) certificate signing request and checks its
// signature. Any failure is ErrBadCSR.
func ParseCSR(b []byte) (*x509.CertificateRequest, error) {
	if len(b) == 0 || len(b) > maxCSRSize {
		return nil, fmt.Errorf("%w: size %d outside 1 to %d bytes", ErrBadCSR, len(b), maxCSRSize)
	}
	der := b
	if p, _ := pem.Decode(b); p != nil {
		if p.Type != "CERTIFICATE REQUEST" && p.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("%w: PEM block %q is not a certificate request", ErrBadCSR, p.Type)
		}
		der = p.Bytes
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrBadCSR, err)
	}
	if err := checkKey(csr.PublicKey); err != nil {
		return nil, err
	}
	return csr, nil
}

// check builds the certificate of req and runs every check on it.
//
// The TBSCertificate is made once, by crypto/x509 with a fast P-256 key
// under a copy of the issuer that carries that key (the template names the
// issuer's signature algorithm, so the TBS is exactly what the issuer will
// sign). The copy that zlint reads carries a placeholder signature of the
// size the issuer's curve gives (see [placeholderSignature]): no lint checks
// the signature value, and the one that reads it at all, Mozilla's
// signature encoding lint, looks only at its length.
func (s *Service) check(req Request) (*approved, error) {
	if err := checkKey(req.PublicKey); err != nil {
		return nil, err
	}
	issuerName, err := req.Profile.issuer()
	if err != nil {
		return nil, err
	}
	issuer := s.auth[issuerName]
	name, err := req.Profile.subjectName(req.Subject, s.cfg.Country)
	if err != nil {
		return nil, err
	}
	tmpl, err := req.Profile.template(&s.cfg, name, req.PublicKey, s.opts.now().UTC(), issuerName)
	if err != nil {
		return nil, err
	}
	if tmpl.NotAfter.After(issuer.cert.NotAfter) {
		tmpl.NotAfter = issuer.cert.NotAfter
	}
	if tmpl.SerialNumber, err = randomSerial(s.opts.rand()); err != nil {
		return nil, err
	}
	sig, err := signatureOf(issuer.cert.PublicKey)
	if err != nil {
		return nil, err
	}
	tmpl.SignatureAlgorithm = sig.alg
	tbsKey, err := s.tbsKey()
	if err != nil {
		return nil, err
	}
	fakeIssuer := *issuer.cert
	fakeIssuer.PublicKey = tbsKey.Public()
	der, err := x509.CreateCertificate(s.opts.rand(), tmpl, &fakeIssuer, req.PublicKey, tbsKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProfile, err)
	}
	tbs, sigAlg, err := splitCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("lint copy: %w", err)
	}
	lintDERCopy, err := assembleCertificate(tbs, sigAlg, sig.placeholder)
	if err != nil {
		return nil, fmt.Errorf("lint copy: %w", err)
	}
	reg, err := issuanceRegistry()
	if err != nil {
		return nil, fmt.Errorf("%w: zlint registry: %v", ErrLint, err)
	}
	if err := lintDER(lintDERCopy, reg); err != nil {
		return nil, err
	}
	return &approved{profile: req.Profile, issuer: issuer, tbs: tbs, sigAlg: sigAlg, sig: sig}, nil
}

// issue signs an approved TBSCertificate with the real CA key, verifies the
// signature (a faulty signer must not produce a certificate), and stores the
// certificate before returning it.
func (s *Service) issue(ctx context.Context, ok *approved) (*x509.Certificate, error) {
	digest := ok.sig.digest(ok.tbs)
	signature, err := ok.issuer.key.Sign(s.opts.rand(), digest, ok.sig.hash)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	if !verifyECDSA(ok.issuer.cert.PublicKey, digest, signature) {
		return nil, fmt.Errorf("sign certificate: the CA key's signature does not verify under %s's public key", ok.issuer.name)
	}
	der, err := assembleCertificate(ok.tbs, ok.sigAlg, signature)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	rec := store.Certificate{
		Serial:    SerialString(cert.SerialNumber),
		Issuer:    ok.issuer.name,
		Profile:   string(ok.profile),
		Subject:   cert.Subject.String(),
		NotBefore: cert.NotBefore,
		NotAfter:  cert.NotAfter,
		IssuedAt:  s.opts.now().UTC(),
		DER:       der,
		Status:    store.StatusValid,
	}
	rec.AuditPending = s.pendingAudit(ctx, rec.IssuedAt, "ca.issue", map[string]string{
		"issuer": rec.Issuer, "profile": rec.Profile, "subject": rec.Subject,
		"not_after": rec.NotAfter.Format(time.RFC3339),
	})
	if err := s.store.InsertCertificate(ctx, rec); err != nil {
		return nil, fmt.Errorf("store certificate: %w", err)
	}
	s.changed(rec.Serial)
	if rec.AuditPending != nil {
		rec.AuditPending.Serial, rec.AuditPending.Version = rec.Serial, 1 // as the store filled in its copy
	}
	if err := s.recordChange(ctx, rec.AuditPending); err != nil {
		return nil, err
	}
	return cert, nil
}

// Lookup returns the stored record of a certificate.
func (s *Service) Lookup(ctx context.Context, serial *big.Int) (store.Certificate, error) {
	c, err := s.store.Certificate(ctx, SerialString(serial))
	if errors.Is(err, store.ErrNotFound) {
		return c, fmt.Errorf("%w: certificate %s", ErrNotFound, SerialString(serial))
	}
	return c, err
}

// List lists certificates in serial order, of one issuer or all ("").
func (s *Service) List(ctx context.Context, issuer string, p store.Page) ([]store.Certificate, error) {
	return s.store.Certificates(ctx, issuer, p)
}
