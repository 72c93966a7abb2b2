package requests

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// Store is what the service needs from persistence: its own records, and
// the signing service's agencies (for their webhooks).
type Store interface {
	RequestsView(ctx context.Context, fn func(store.RequestsTx) error) error
	// RequestsUpdate may run fn more than once.
	RequestsUpdate(ctx context.Context, fn func(store.RequestsTx) error) error
	SigningView(ctx context.Context, fn func(store.SigningTx) error) error
}

var (
	_ Store = (*store.Bolt)(nil)
	_ Store = (*store.Postgres)(nil)
)

// ServiceInfo is a catalogue service as requests need it.
type ServiceInfo struct {
	Code   string
	NameAr string
	NameEn string
	// AgencyID is the ID of the agency (as registered with the signing
	// service) that decides requests for the service; AgencyName is shown
	// on the form.
	AgencyID   string
	AgencyName string
	FeeFils    int64
	// AtCentre: the service is delivered at a service centre, not
	// requested online.
	AtCentre          bool
	SignatureRequired bool
	Sealed            bool
	RequiredDocuments []string
}

// Catalogue finds services by code; an unknown code is an error wrapping
// [ErrNotFound].
type Catalogue interface {
	Lookup(ctx context.Context, code string) (ServiceInfo, error)
}

// Payments raises invoices for fees and says whether they are paid.
type Payments interface {
	// Invoice raises the invoice of a request's fee and returns its ID;
	// reference is the request ID, and the same reference gives the same
	// invoice.
	Invoice(ctx context.Context, reference, nationalID string, amountFils int64, descriptionAr, descriptionEn string) (string, error)
	Paid(ctx context.Context, invoiceID string) (bool, error)
}

// Sealer seals a PDF with an agency's e-seal (EN 319 412-3 certificate
// from Thiqa's organisation CA) at PAdES B-LT.
type Sealer interface {
	Seal(ctx context.Context, agencyID string, pdf []byte) ([]byte, error)
}

// Signing is what the service needs from the signing service
// (*signing.Service): it asks the citizen to sign the form, on the
// citizen's behalf.
type Signing interface {
	Create(ctx context.Context, by signing.Principal, n signing.NewRequest) (signing.RequestView, bool, error)
	Get(ctx context.Context, by signing.Principal, id string) (signing.RequestView, error)
	Document(ctx context.Context, by signing.Principal, id string, i int, signed bool) ([]byte, string, error)
}

var _ Signing = (*signing.Service)(nil)

// Identities gives the citizen's enrolled names (*enrollment.Service).
type Identities interface {
	Me(ctx context.Context, by enrollment.Principal) (enrollment.IdentityView, error)
}

var _ Identities = (*enrollment.Service)(nil)

// Validator validates signed PDFs (*validate.Validator).
type Validator interface {
	Validate(ctx context.Context, r io.ReaderAt, size int64) (*validate.Report, error)
}

var _ Validator = (*validate.Validator)(nil)

// Deps are the services requests use. Payments may be nil when no
// service has a fee (opening a request for one then fails); Sealer may be
// nil when no service seals its results.
type Deps struct {
	Store      Store
	Catalogue  Catalogue
	Signing    Signing
	Identities Identities
	Validator  Validator
	Payments   Payments
	Sealer     Sealer
	// Audit receives one record per transition (nil: none).
	Audit enrollment.Auditor
}

// Options tune the service; the zero value is safe.
type Options struct {
	// MaxDocumentSize bounds an uploaded signed form or result (default
	// 10 MiB).
	MaxDocumentSize int64
	// Webhooks sends the agencies' webhooks (default a client with a 10 s
	// timeout); nil Clock means time.Now, nil Rand crypto/rand.
	Webhooks *http.Client
	Clock    func() time.Time
	Rand     io.Reader
}

// Service runs service requests. Safe for concurrent use.
type Service struct {
	d     Deps
	opts  Options
	hooks sync.WaitGroup
}

// New returns the service.
func New(d Deps, opts Options) (*Service, error) {
	if d.Store == nil || d.Catalogue == nil || d.Signing == nil || d.Identities == nil || d.Validator == nil {
		return nil, errors.New("new requests service: store, catalogue, signing, identities and validator are required")
	}
	if opts.MaxDocumentSize <= 0 {
		opts.MaxDocumentSize = 10 << 20
	}
	if opts.Webhooks == nil {
		opts.Webhooks = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	return &Service{d: d, opts: opts}, nil
}

// Wait waits for webhooks under way (at shutdown and in tests).
func (s *Service) Wait() { s.hooks.Wait() }

func (s *Service) now() time.Time { return s.opts.Clock().UTC() }

func (s *Service) randomID() (string, error) {
	b := make([]byte, 15)
	if _, err := io.ReadFull(s.opts.Rand, b); err != nil {
		return "", fmt.Errorf("read randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Principal is who calls: a signed-in citizen or an agency (the
// signing service's principal).
type Principal = signing.Principal

func isCitizen(p Principal) bool {
	return p.Citizen != nil && p.Citizen.Kind == enrollment.KindCitizen && p.Agency == nil
}

func isAgency(p Principal) bool { return p.Agency != nil && p.Citizen == nil }

// actor names the principal in transitions and the audit log (no
// personal data: a citizen by identity record ID).
func actor(p Principal) string {
	switch {
	case isAgency(p):
		return "agency:" + p.Agency.ID
	case isCitizen(p) && p.Citizen.IdentityID != "":
		return "citizen:" + p.Citizen.IdentityID
	case isCitizen(p):
		return "citizen:unknown"
	}
	return "unknown"
}

// maySee reports whether p may read r: its citizen, or its agency once
// the citizen has submitted it (a request opened, or cancelled before
// submission, is the citizen's alone). Anything else looks like a missing
// request.
func maySee(p Principal, r store.ServiceRequest) error {
	switch {
	case isCitizen(p) && p.Citizen.NationalID == r.NationalID:
		return nil
	case isAgency(p) && p.Agency.ID == r.Agency && agencyStates[r.State]:
		return nil
	}
	return fmt.Errorf("%w: service request %s", ErrNotFound, r.ID)
}

// agencyStates are the states in which the agency sees a request.
var agencyStates = map[string]bool{store.RequestSubmitted: true, store.RequestAccepted: true, store.RequestRejected: true}
