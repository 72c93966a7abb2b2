package ca

import (
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/store"
)

// Names of the authorities the key ceremony creates.
const (
	Root       = "root"
	CitizenCA  = "citizen-ca"
	OrgCA      = "org-ca"
	TSU        = "tsu"
	OCSPPrefix = "ocsp-" // + issuing CA's name
)

// Roles of authorities.
const (
	RoleRoot    = "root-ca"
	RoleIssuing = "issuing-ca"
	RoleTSU     = "tsu"
	RoleOCSP    = "ocsp"
)

// IssuingCAs are the authorities that issue end-entity certificates, each
// with its own OCSP responder and CRL.
var IssuingCAs = []string{CitizenCA, OrgCA}

// plan describes one authority of the ceremony.
type plan struct {
	name, role, parent string
	alg                hsm.Algorithm
	validity           time.Duration
	commonName         string
}

func ceremonyPlan(org string) []plan {
	const year = 365 * 24 * time.Hour
	return []plan{
		{Root, RoleRoot, "", hsm.ECDSAP384, 20 * year, org + " Root CA"},
		{CitizenCA, RoleIssuing, Root, hsm.ECDSAP384, 10 * year, org + " Citizen CA"},
		{OrgCA, RoleIssuing, Root, hsm.ECDSAP384, 10 * year, org + " Organisation CA"},
		// Operational keys sign at high rates: P-256.
		{TSU, RoleTSU, OrgCA, hsm.ECDSAP256, 6 * year, org + " Time-Stamping Unit 1"},
		{OCSPPrefix + CitizenCA, RoleOCSP, CitizenCA, hsm.ECDSAP256, 2 * year, org + " Citizen CA OCSP Responder"},
		{OCSPPrefix + OrgCA, RoleOCSP, OrgCA, hsm.ECDSAP256, 2 * year, org + " Organisation CA OCSP Responder"},
	}
}

// Init runs the key ceremony: it generates every authority's key in custody,
// certifies it, and saves the ceremony in the store in one transaction. It
// fails with ErrInitialized when a ceremony was saved before, and changes
// nothing then.
func Init(ctx context.Context, cfg Config, keys hsm.Custody, st Store, opts Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, err := st.Ceremony(ctx); err == nil {
		return nil, ErrInitialized
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("key ceremony: %w", err)
	}
	now := opts.now().UTC().Truncate(time.Second)
	// Key identifiers carry a random suffix, so that keys left by a
	// ceremony that crashed before it was saved never collide with this one.
	suffix := make([]byte, 4)
	if _, err := io.ReadFull(opts.rand(), suffix); err != nil {
		return nil, fmt.Errorf("key ceremony: %w", err)
	}
	certs := map[string]*x509.Certificate{}
	signers := map[string]crypto.Signer{}
	var auths []store.Authority
	for _, p := range ceremonyPlan(cfg.Organization) {
		id := hsm.KeyID(p.name + "-" + hex.EncodeToString(suffix))
		key, err := keys.GenerateKey(ctx, id, p.alg)
		if err != nil {
			return nil, fmt.Errorf("key ceremony: %s: %w", p.name, err)
		}
		tmpl, err := authorityTemplate(&cfg, p, key.Public(), now)
		if err != nil {
			return nil, fmt.Errorf("key ceremony: %s: %w", p.name, err)
		}
		if tmpl.SerialNumber, err = randomSerial(opts.rand()); err != nil {
			return nil, fmt.Errorf("key ceremony: %s: %w", p.name, err)
		}
		parent, parentKey := tmpl, crypto.Signer(key)
		if p.parent != "" {
			parent, parentKey = certs[p.parent], signers[p.parent]
		}
		der, err := x509.CreateCertificate(opts.rand(), tmpl, parent, key.Public(), parentKey)
		if err != nil {
			return nil, fmt.Errorf("key ceremony: certify %s: %w", p.name, err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("key ceremony: certify %s: %w", p.name, err)
		}
		if err := lint(cert); err != nil {
			return nil, fmt.Errorf("key ceremony: %s: %w", p.name, err)
		}
		certs[p.name], signers[p.name] = cert, key
		auths = append(auths, store.Authority{Name: p.name, Role: p.role, KeyID: string(id), Parent: p.parent, CertDER: der, CreatedAt: now})
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("key ceremony: %w", err)
	}
	// The ceremony's record is kept pending with it, so that a crash
	// before its append is caught up (audit.Log.CatchUp).
	fingerprints := map[string]string{}
	for _, a := range auths {
		fingerprints[a.Name] = fmt.Sprintf("%X", sha256.Sum256(a.CertDER))
	}
	ceremony := audit.Event{Actor: actorOf(ctx), Action: "ca.ceremony", Subject: Root, Details: fingerprints, Source: "ca.ceremony"}
	var pending *store.PendingAudit
	if opts.Audit != nil {
		details, err := json.Marshal(fingerprints)
		if err != nil {
			return nil, fmt.Errorf("key ceremony: %w", err)
		}
		pending = &store.PendingAudit{Source: ceremony.Source, At: now, Actor: ceremony.Actor, Action: ceremony.Action, Subject: ceremony.Subject, Details: details}
	}
	if err := st.SaveCeremony(ctx, store.Ceremony{Config: raw, Authorities: auths, CreatedAt: now, AuditPending: pending}); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return nil, ErrInitialized
		}
		return nil, fmt.Errorf("key ceremony: %w", err)
	}
	s, err := Open(ctx, keys, st, opts)
	if err != nil {
		return nil, err
	}
	if s.opts.Audit != nil {
		if _, err := s.opts.Audit.Append(ctx, ceremony); err != nil {
			return nil, fmt.Errorf("audit ca.ceremony: %w", err)
		}
	}
	// Every issuing CA publishes a CRL from the start.
	for _, name := range append([]string{Root}, IssuingCAs...) {
		if err := s.RefreshCRL(ctx, name); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func authorityTemplate(cfg *Config, p plan, pub crypto.PublicKey, now time.Time) (*x509.Certificate, error) {
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{
		Subject: pkix.Name{
			Country:      []string{cfg.Country},
			Organization: []string{cfg.Organization},
			CommonName:   p.commonName,
		},
		NotBefore:             now,
		NotAfter:              now.Add(p.validity),
		SubjectKeyId:          ski,
		BasicConstraintsValid: true,
	}
	if p.parent != "" {
		t.IssuingCertificateURL = []string{cfg.url("/ca/" + p.parent + ".cer")}
	}
	if p.parent != "" && p.role != RoleOCSP {
		// A delegated OCSP responder is never checked for revocation
		// (id-pkix-ocsp-nocheck): it carries no CRL pointer.
		t.CRLDistributionPoints = []string{cfg.url("/crl/" + p.parent + ".crl")}
	}
	switch p.role {
	case RoleRoot:
		t.IsCA = true
		t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	case RoleIssuing:
		t.IsCA, t.MaxPathLenZero = true, true
		t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		// anyPolicy: the CAs are operated by the same provider as the root
		// and issue under several of its policies. Restricting them to
		// Thiqa's own OIDs would make them "policy-restricted" CAs in the
		// CA/Browser Forum's sense, which require its TLS policy OIDs.
		t.ExtraExtensions = append(t.ExtraExtensions, policies(oidAnyPolicy))
	case RoleTSU:
		t.KeyUsage = x509.KeyUsageDigitalSignature
		// RFC 3161 §2.3: the only extended key usage, and critical.
		eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidEKUTimeStamping})
		if err != nil {
			return nil, err
		}
		t.ExtraExtensions = append(t.ExtraExtensions,
			pkix.Extension{Id: oidExtKeyUsage, Critical: true, Value: eku},
			policies(cfg.policy(4)))
	case RoleOCSP:
		t.KeyUsage = x509.KeyUsageDigitalSignature
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
		t.ExtraExtensions = append(t.ExtraExtensions, pkix.Extension{Id: oidOCSPNoCheck, Value: asn1.NullBytes})
	}
	return t, nil
}

// subjectKeyID is the SHA-1 of the subject public key bit string (RFC 5280
// §4.2.1.2, method 1).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(pubDER, &spki); err != nil {
		return nil, err
	}
	ski := sha1.Sum(spki.PublicKey.Bytes)
	return ski[:], nil
}

// randomSerial returns a positive serial number of 159 random bits.
func randomSerial(r io.Reader) (*big.Int, error) {
	b := make([]byte, 20)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	b[0] &= 0x7f
	if b[0] == 0 {
		b[0] = 0x40 // keep the full 20 octets and at least 128 bits of entropy
	}
	return new(big.Int).SetBytes(b), nil
}

// SerialString formats a serial number as Thiqa stores it: lower-case hex
// without leading zeros.
func SerialString(n *big.Int) string { return n.Text(16) }

// ParseSerial parses a serial number written in hex, with or without a
// "0x" prefix and colons between octets.
func ParseSerial(s string) (*big.Int, error) {
	h := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), ":", ""))
	n, ok := new(big.Int).SetString(h, 16)
	if !ok || h == "" || h[0] == '-' || h[0] == '+' || n.Sign() <= 0 || n.BitLen() > 160 {
		return nil, fmt.Errorf("%w: %q is not a serial number", ErrNotFound, s)
	}
	return n, nil
}
