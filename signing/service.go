package signing

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/store"
)

// Store is what the service needs from persistence.
type Store interface {
	SigningView(ctx context.Context, fn func(store.SigningTx) error) error
	// SigningUpdate may run fn more than once.
	SigningUpdate(ctx context.Context, fn func(store.SigningTx) error) error
}

var _ Store = (*store.Bolt)(nil)

// Approver is what the service needs from the registration authority
// (*enrollment.Service): the citizen's identity and the signature
// activation. Nothing here signs without a verified approval.
type Approver interface {
	Me(ctx context.Context, by enrollment.Principal) (enrollment.IdentityView, error)
	BeginApproval(ctx context.Context, by enrollment.Principal, sc enrollment.ApprovalScope) (enrollment.ApprovalBegun, error)
	FinishApproval(ctx context.Context, by enrollment.Principal, ceremonyID string, sc enrollment.ApprovalScope, response []byte) (*enrollment.Approval, error)
	SignApproved(ctx context.Context, a *enrollment.Approval) ([][]byte, error)
}

var _ Approver = (*enrollment.Service)(nil)

// Trust is what the service needs from the certificate authority:
// citizens' certificates with their chains, time-stamps and revocation
// data. [CATrust] adapts a *ca.Service.
type Trust interface {
	signer.Timestamper
	signer.RevocationSource
	// SigningCertificate returns the certificate of the serial (lower-case
	// hex) and the chain above it.
	SigningCertificate(ctx context.Context, serial string) (*x509.Certificate, []*x509.Certificate, error)
	// ExtraCertificates help build the chains of the time-stamping unit
	// and the OCSP responders.
	ExtraCertificates() []*x509.Certificate
}

// Options tune the service; the zero value is safe.
type Options struct {
	// MaxDocuments bounds the PDFs of one request (default 10, at most
	// enrollment.MaxApprovalDigests).
	MaxDocuments int
	// MaxDocumentSize bounds one PDF (default 10 MiB).
	MaxDocumentSize int64
	// RequestTTL is how long a request waits for the citizen (default
	// 7 days).
	RequestTTL time.Duration
	// ApprovalTTL is how long an approval challenge is valid (default and
	// maximum 5 minutes).
	ApprovalTTL time.Duration
	// Audit receives one record per signature made (nil: none).
	Audit enrollment.Auditor
	// VerifyBaseURL goes in the visible stamps' QR codes.
	VerifyBaseURL string
	// MaxConcurrent bounds the approvals being prepared or signed at once
	// (default 4 per CPU); others wait their turn, in order, so that a
	// burst neither exhausts memory (each holds its documents) nor
	// stretches every approval's latency.
	MaxConcurrent int
	// Webhooks sends the agencies' webhooks (default a client with a 10 s
	// timeout that follows no redirect: a 3xx counts as a failed attempt);
	// nil Clock means time.Now, nil Rand crypto/rand.
	Webhooks *http.Client
	// WebhookAttempts is how many times a webhook is tried before it is
	// marked failed (default 8); the n-th retry waits about WebhookBackoff
	// doubled n-1 times (default 10 s), at most WebhookMaxBackoff (default
	// 1 h). WebhookLease is how long a worker holds the deliveries it
	// claimed (default 1 min, more than the client's timeout).
	WebhookAttempts   int
	WebhookBackoff    time.Duration
	WebhookMaxBackoff time.Duration
	WebhookLease      time.Duration
	// RecoverAfter is how long a request may stay in state signing before
	// [Service.Recover] takes it for interrupted (default 2 min; signing
	// takes seconds).
	RecoverAfter time.Duration
	Clock        func() time.Time
	Rand         io.Reader
}

// Service runs the signing flows. Safe for concurrent use.
type Service struct {
	st    Store
	ra    Approver
	trust Trust
	opts  Options
	hooks sync.WaitGroup
	slots chan struct{}
	// worker names this service's webhook leases.
	worker string
	// kicking is set while a delivery round started by kick runs, and
	// kickAgain when another commit queued a webhook since it began.
	kicking, kickAgain atomic.Bool
}

// acquire waits for a slot to prepare or sign, or for ctx to end.
func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) release() { <-s.slots }

// New returns the service.
func New(st Store, ra Approver, trust Trust, opts Options) (*Service, error) {
	if st == nil || ra == nil || trust == nil {
		return nil, errors.New("new signing service: store, approver and trust services are required")
	}
	if opts.MaxDocuments <= 0 {
		opts.MaxDocuments = 10
	}
	opts.MaxDocuments = min(opts.MaxDocuments, enrollment.MaxApprovalDigests)
	if opts.MaxDocumentSize <= 0 {
		opts.MaxDocumentSize = 10 << 20
	}
	if opts.RequestTTL <= 0 {
		opts.RequestTTL = 7 * 24 * time.Hour
	}
	if opts.ApprovalTTL <= 0 || opts.ApprovalTTL > enrollment.MaxApprovalTTL {
		opts.ApprovalTTL = enrollment.MaxApprovalTTL
	}
	if opts.Webhooks == nil {
		// Redirects are not followed: a receiver could otherwise send the
		// signed body on to a host the operator never registered.
		opts.Webhooks = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 4 * runtime.GOMAXPROCS(0)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.WebhookBackoff, 10*time.Second)
	def(&opts.WebhookMaxBackoff, time.Hour)
	def(&opts.WebhookLease, time.Minute)
	def(&opts.RecoverAfter, 2*time.Minute)
	if opts.WebhookAttempts <= 0 {
		opts.WebhookAttempts = 8
	}
	s := &Service{st: st, ra: ra, trust: trust, opts: opts, slots: make(chan struct{}, opts.MaxConcurrent)}
	var err error
	if s.worker, err = s.randomID(12); err != nil {
		return nil, fmt.Errorf("new signing service: %w", err)
	}
	return s, nil
}

// Limits returns the limits in force.
func (s *Service) Limits() (maxDocuments int, maxDocumentSize int64) {
	return s.opts.MaxDocuments, s.opts.MaxDocumentSize
}

// Wait waits for the webhook deliveries started after commits (at
// shutdown and in tests).
func (s *Service) Wait() { s.hooks.Wait() }

func (s *Service) now() time.Time { return s.opts.Clock().UTC() }

func (s *Service) randomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.opts.Rand, b); err != nil {
		return "", fmt.Errorf("read randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Principal is who calls the service: a signed-in citizen, or an agency
// (by its ID). IP is recorded in evidence.
type Principal struct {
	Citizen *enrollment.Principal
	Agency  *store.Agency
	IP      string
}

func (p Principal) isCitizen() bool {
	return p.Citizen != nil && p.Citizen.Kind == enrollment.KindCitizen && p.Agency == nil
}

func (p Principal) isAgency() bool { return p.Agency != nil && p.Citizen == nil }

// owner is the idempotency namespace of the principal.
func (p Principal) owner() string {
	switch {
	case p.isAgency():
		return "agency:" + p.Agency.ID
	case p.isCitizen():
		return "citizen:" + p.Citizen.NationalID
	}
	return ""
}

// maySee reports whether p may read r: its citizen, or the agency that
// asked. Anything else looks like a missing request.
func (p Principal) maySee(r store.SignRequest) error {
	switch {
	case p.isCitizen() && p.Citizen.NationalID == r.NationalID:
		return nil
	case p.isAgency() && r.Agency != "" && p.Agency.ID == r.Agency:
		return nil
	}
	return fmt.Errorf("%w: sign request %s", ErrNotFound, r.ID)
}

func notFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return err
}
