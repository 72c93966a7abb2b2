package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/internal/tsp"
	"github.com/thiqa/thiqa/store"
)

// Store is what the authority needs from persistence.
type Store interface {
	InsertCertificate(ctx context.Context, c store.Certificate) error
	Certificate(ctx context.Context, serial string) (store.Certificate, error)
	Certificates(ctx context.Context, issuer string, p store.Page) ([]store.Certificate, error)
	UpdateCertificate(ctx context.Context, serial string, fn func(*store.Certificate) error) (store.Certificate, error)
	RevokedCertificates(ctx context.Context, issuer string) ([]store.Certificate, error)
	SaveCeremony(ctx context.Context, c store.Ceremony) error
	Ceremony(ctx context.Context) (store.Ceremony, error)
	IssueCRL(ctx context.Context, issuer string, build func(number int64) (store.CRL, error)) (store.CRL, error)
	LatestCRL(ctx context.Context, issuer string) (store.CRL, error)
	CertificateChanges(ctx context.Context, after uint64) ([]string, uint64, error)
}

var (
	_ Store = (*store.Bolt)(nil)
	_ Store = (*store.Postgres)(nil)
)

// Service is the certificate authority after the key ceremony: every
// authority with its key in custody. Safe for concurrent use.
type Service struct {
	cfg   Config
	opts  Options
	store Store
	auth  map[string]*authority
	order []string // authority names in ceremony order

	lintKeys lintKeys
	crls     map[string]*crlState
	ocsp     *Responder
	tsa      *tsp.Authority
	onChange []func(serial string)
}

// authority is one CA or service key with its certificate.
type authority struct {
	name, role, parent string
	cert               *x509.Certificate
	key                crypto.Signer
	chain              []*x509.Certificate // parent first, up to the root
}

// Open loads the authorities of the saved key ceremony; ErrNotInitialized
// before the first one.
func Open(ctx context.Context, keys hsm.Custody, st Store, opts Options) (*Service, error) {
	c, err := st.Ceremony(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotInitialized
	}
	if err != nil {
		return nil, fmt.Errorf("open authority: %w", err)
	}
	s := &Service{opts: opts, store: st, auth: map[string]*authority{}, crls: map[string]*crlState{}}
	if err := json.Unmarshal(c.Config, &s.cfg); err != nil {
		return nil, fmt.Errorf("open authority: config: %w", err)
	}
	if err := s.cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open authority: %w", err)
	}
	for _, a := range c.Authorities {
		cert, err := x509.ParseCertificate(a.CertDER)
		if err != nil {
			return nil, fmt.Errorf("open authority %s: %w", a.Name, err)
		}
		key, err := keys.Key(ctx, hsm.KeyID(a.KeyID))
		if err != nil {
			return nil, fmt.Errorf("open authority %s: %w", a.Name, err)
		}
		if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
			return nil, fmt.Errorf("open authority %s: key %s does not match its certificate", a.Name, a.KeyID)
		}
		s.auth[a.Name] = &authority{name: a.Name, role: a.Role, parent: a.Parent, cert: cert, key: key}
		s.order = append(s.order, a.Name)
	}
	for _, name := range s.order {
		a := s.auth[name]
		for p := a.parent; p != ""; p = s.auth[p].parent {
			pa, ok := s.auth[p]
			if !ok || len(a.chain) > 4 {
				return nil, fmt.Errorf("open authority %s: broken chain at %q", name, p)
			}
			a.chain = append(a.chain, pa.cert)
		}
	}
	for _, name := range append([]string{Root}, IssuingCAs...) {
		if _, ok := s.auth[name]; !ok {
			return nil, fmt.Errorf("open authority: ceremony has no %s", name)
		}
		s.crls[name] = &crlState{}
	}
	s.ocsp, err = newResponder(s)
	if err != nil {
		return nil, err
	}
	tsu, ok := s.auth[TSU]
	if !ok {
		return nil, fmt.Errorf("open authority: ceremony has no %s", TSU)
	}
	s.tsa, err = tsp.New(tsu.key, tsu.cert, tsu.chain, tsp.Options{
		Policy: s.cfg.TSAPolicy(),
		Clock:  opts.Clock,
		Rand:   opts.Rand,
	})
	if err != nil {
		return nil, fmt.Errorf("open time-stamping unit: %w", err)
	}
	return s, nil
}

// Config returns the configuration saved by the key ceremony.
func (s *Service) Config() Config { return s.cfg }

// AuthorityInfo describes one authority for operators.
type AuthorityInfo struct {
	Name, Role, Parent string
	Certificate        *x509.Certificate
}

// Authorities lists the authorities in ceremony order (root first).
func (s *Service) Authorities() []AuthorityInfo {
	var out []AuthorityInfo
	for _, name := range s.order {
		a := s.auth[name]
		out = append(out, AuthorityInfo{Name: a.name, Role: a.role, Parent: a.parent, Certificate: a.cert})
	}
	return out
}

// Certificate returns an authority's certificate.
func (s *Service) AuthorityCertificate(name string) (*x509.Certificate, error) {
	a, ok := s.auth[name]
	if !ok {
		return nil, fmt.Errorf("%w: authority %q", ErrNotFound, name)
	}
	return a.cert, nil
}

// Chain returns the certificates above an authority, its parent first and
// the root last.
func (s *Service) Chain(name string) ([]*x509.Certificate, error) {
	a, ok := s.auth[name]
	if !ok {
		return nil, fmt.Errorf("%w: authority %q", ErrNotFound, name)
	}
	return a.chain, nil
}

// TSA returns the time-stamping authority.
func (s *Service) TSA() *tsp.Authority { return s.tsa }

// OnStatusChange registers fn to be called after a certificate's status
// changed (issued, revoked, held, released). Call before serving.
func (s *Service) OnStatusChange(fn func(serial string)) { s.onChange = append(s.onChange, fn) }

func (s *Service) changed(serial string) {
	s.ocsp.invalidate(serial)
	for _, fn := range s.onChange {
		fn(serial)
	}
}

// lintKeys holds the throwaway key that builds the TBSCertificates linted
// before the real signature.
type lintKeys struct {
	mu  sync.Mutex
	key crypto.Signer
}
