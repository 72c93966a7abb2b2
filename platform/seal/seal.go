// Package seal applies an organisation's electronic seal (an ETSI EN 319
// 412-3 legal-person certificate from Thiqa's organisation CA) to PDF
// documents at PAdES B-LT: receipts sealed by the platform (package
// platform/payments) and service results sealed by an agency (package
// platform/requests).
//
// [Provision] finds or creates the seal's key in key custody and its
// certificate, issued by the organisation CA with the ca.ESeal profile and
// kept in the store (renewed when it is revoked or within 30 days of
// expiry); [Seal.Seal] then signs with package signer, time-stamped by
// the CA's time-stamping unit and with the revocation data embedded.
//
// seal uses the trust core only through its public Go API (ca, hsm,
// signer, signing.CATrust); it must not import api, web, cmd or the other
// platform packages.
package seal

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// Sealer seals a PDF. *Seal implements it; other packages declare it
// where they use it, or use this one.
type Sealer interface {
	Seal(ctx context.Context, pdf []byte, o Options) ([]byte, error)
}

var _ Sealer = (*Seal)(nil)

// Options describe one sealing; the zero value is fine.
type Options struct {
	// Reason and Location go in the signature dictionary.
	Reason, Location string
	// Stamp, when set, makes the seal visible.
	Stamp *Stamp
}

// Stamp is a seal's visible appearance: package signer's bilingual stamp
// with the organisation's names (the Arabic one shaped, right to left).
type Stamp struct {
	// Page (from 1) and Rect (x1, y1, x2, y2 in points) place it.
	Page int
	Rect [4]float64
	// Reason is a line of the stamp, in either script.
	Reason string
	// VerifyBaseURL, when set, adds a QR code of it followed by the
	// signature's identifier.
	VerifyBaseURL string
}

// Trust is what sealing needs of the trust services: time-stamps,
// revocation data and the certificates that check them.
// signing.CATrust(*ca.Service) provides it in process.
type Trust interface {
	signer.Timestamper
	signer.RevocationSource
	ExtraCertificates() []*x509.Certificate
}

// Seal is one organisation's e-seal: its key, certificate and chain.
type Seal struct {
	// NameAr and NameEn are the organisation's names drawn on visible
	// seals; NameEn defaults to the certificate's organisation.
	NameAr, NameEn string

	key   crypto.Signer
	cert  *x509.Certificate
	chain []*x509.Certificate
	trust Trust
	clock func() time.Time
}

// New returns the seal of key with its certificate and chain (the issuing
// CA first, up to the root).
func New(key crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate, trust Trust, clock func() time.Time) *Seal {
	if clock == nil {
		clock = time.Now
	}
	return &Seal{key: key, cert: cert, chain: chain, trust: trust, clock: clock}
}

// Certificate is the seal's certificate.
func (s *Seal) Certificate() *x509.Certificate { return s.cert }

// Seal signs pdf with the e-seal at PAdES B-LT and returns the sealed
// document.
func (s *Seal) Seal(ctx context.Context, pdf []byte, o Options) ([]byte, error) {
	opts := &signer.Options{Certificate: s.cert, Chain: s.chain, Level: signer.LevelBLT, Clock: s.clock,
		Reason: o.Reason, Location: o.Location, Timestamper: s.trust, Revocation: s.trust,
		ExtraCertificates: s.trust.ExtraCertificates()}
	if st := o.Stamp; st != nil {
		nameEn := s.NameEn
		if nameEn == "" && len(s.cert.Subject.Organization) > 0 {
			nameEn = s.cert.Subject.Organization[0]
		}
		opts.Visible = &signer.Visible{Page: st.Page, Rect: st.Rect}
		opts.Appearance = signer.BilingualStamp(signer.StampOptions{NameArabic: s.NameAr, NameLatin: nameEn,
			Reason: st.Reason, VerifyBaseURL: st.VerifyBaseURL})
	}
	var out bytes.Buffer
	if err := signer.Sign(ctx, bytes.NewReader(pdf), int64(len(pdf)), &out, s.key, opts); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return out.Bytes(), nil
}

// CertStore keeps the seals' certificates; *store.Bolt and
// *store.Postgres implement it.
type CertStore interface {
	SealCertificate(ctx context.Context, name string) ([]byte, error)
	PutSealCertificate(ctx context.Context, name string, old, der []byte) ([]byte, error)
}

var (
	_ CertStore = (*store.Bolt)(nil)
	_ CertStore = (*store.Postgres)(nil)
)

// Identity names an e-seal's holder.
type Identity struct {
	// Name is the seal's stable name: its key is "eseal-<Name>" in
	// custody and its certificate is stored under Name.
	Name string
	// Organization and OrgIdentifier (e.g. "GOVJO-1001") go in the
	// certificate's subject.
	Organization, OrgIdentifier string
	// OrganizationAr is the Arabic name drawn on visible seals.
	OrganizationAr string
}

// ProvisionOptions configure Provision; the zero value is usable.
type ProvisionOptions struct {
	// Trust defaults to signing.CATrust(authority).
	Trust Trust
	// Clock defaults to time.Now.
	Clock func() time.Time
}

// renewBefore is how long before expiry a seal's certificate is renewed.
const renewBefore = 30 * 24 * time.Hour

// Provision returns the e-seal id, creating its key in keys and having
// authority issue its certificate when there is none usable yet. Several
// replicas may provision the same seal at once: they end up with the same
// key and certificate.
func Provision(ctx context.Context, keys hsm.Custody, authority *ca.Service, st CertStore, id Identity, opts ProvisionOptions) (*Seal, error) {
	fail := func(err error) (*Seal, error) { return nil, fmt.Errorf("provision e-seal %s: %w", id.Name, err) }
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Trust == nil {
		opts.Trust = signing.CATrust(authority)
	}
	keyID := hsm.KeyID("eseal-" + id.Name)
	key, err := keys.Key(ctx, keyID)
	if errors.Is(err, hsm.ErrKeyNotFound) {
		key, err = keys.GenerateKey(ctx, keyID, hsm.ECDSAP256)
		if errors.Is(err, hsm.ErrKeyExists) {
			key, err = keys.Key(ctx, keyID)
		}
	}
	if err != nil {
		return fail(err)
	}
	old, err := st.SealCertificate(ctx, id.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fail(err)
	}
	der := old
	if !usable(ctx, authority, old, key.Public(), opts.Clock()) {
		cert, err := authority.Issue(ctx, ca.Request{Profile: ca.ESeal, PublicKey: key.Public(),
			Subject: ca.Subject{Organization: id.Organization, OrgIdentifier: id.OrgIdentifier}})
		if err != nil {
			return fail(err)
		}
		if der, err = st.PutSealCertificate(ctx, id.Name, old, cert.Raw); err != nil {
			return fail(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fail(err)
	}
	chain, err := chainOf(authority, cert)
	if err != nil {
		return fail(err)
	}
	sl := New(key, cert, chain, opts.Trust, opts.Clock)
	sl.NameAr, sl.NameEn = id.OrganizationAr, id.Organization
	return sl, nil
}

// usable reports whether der is a valid, unexpired certificate of pub.
func usable(ctx context.Context, authority *ca.Service, der []byte, pub crypto.PublicKey, now time.Time) bool {
	if der == nil {
		return false
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil || now.Add(renewBefore).After(cert.NotAfter) {
		return false
	}
	if k, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(cert.PublicKey) {
		return false
	}
	rec, err := authority.Lookup(ctx, cert.SerialNumber)
	return err == nil && rec.Status == store.StatusValid
}

// chainOf returns cert's issuing authority and the authorities above it.
func chainOf(authority *ca.Service, cert *x509.Certificate) ([]*x509.Certificate, error) {
	for _, a := range authority.Authorities() {
		if bytes.Equal(a.Certificate.RawSubject, cert.RawIssuer) && cert.CheckSignatureFrom(a.Certificate) == nil {
			above, err := authority.Chain(a.Name)
			if err != nil {
				return nil, err
			}
			return append([]*x509.Certificate{a.Certificate}, above...), nil
		}
	}
	return nil, errors.New("the certificate's issuer is not one of the CA's authorities")
}
