package enrollment

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/store"
)

// Store is what the service needs from persistence: transactions over the
// enrollment records.
type Store interface {
	EnrollmentView(ctx context.Context, fn func(store.EnrollmentTx) error) error
	// EnrollmentUpdate may run fn more than once; fn must have no effect
	// outside the transaction.
	EnrollmentUpdate(ctx context.Context, fn func(store.EnrollmentTx) error) error
}

var _ Store = (*store.Bolt)(nil)

// CA is what the service needs from the certificate authority.
type CA interface {
	Issue(ctx context.Context, req ca.Request) (*x509.Certificate, error)
	Revoke(ctx context.Context, serial *big.Int, reason ca.Reason) (store.Certificate, error)
	Release(ctx context.Context, serial *big.Int) (store.Certificate, error)
}

var _ CA = (*ca.Service)(nil)

// Argon2Params size the argon2id password hash.
type Argon2Params struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// DefaultArgon2 (16 MiB, one pass, two lanes) costs about 40 ms per hash
// on the 2-core pilot machine under load, so that an officer's sign-in
// stays under 50 ms; OWASP's floor (19 MiB, two passes) would double it.
var DefaultArgon2 = Argon2Params{Time: 1, MemoryKiB: 16 << 10, Threads: 2}

// Options tune the service; the zero value is safe.
type Options struct {
	// RPID is the WebAuthn relying party ID (default "localhost").
	RPID string
	// Origins are the allowed WebAuthn origins (default
	// "http://localhost:8080").
	Origins []string
	// RPName is shown by authenticators (default "Thiqa").
	RPName string
	// CodeTTL is how long an activation code is valid (default 15 min).
	CodeTTL time.Duration
	// CodeAttempts is how many wrong codes lock activation (default 5).
	CodeAttempts int
	// CeremonyTTL bounds a WebAuthn ceremony (default 5 min).
	CeremonyTTL time.Duration
	// OfficerSessionTTL (default 8 h) and CitizenSessionTTL (default
	// 15 min) bound sessions.
	OfficerSessionTTL time.Duration
	CitizenSessionTTL time.Duration
	// SignInFailures consecutive officer sign-in failures lock the account
	// for LockFor (defaults 5 and 15 min).
	SignInFailures int
	LockFor        time.Duration
	// StepUp is how recent a citizen's passkey sign-in must be to approve
	// a new device or revoke (default 5 min).
	StepUp time.Duration
	// Argon2 sizes password hashing (default DefaultArgon2; tests lower
	// it).
	Argon2 Argon2Params
	// Wrapped, when set, holds citizens' keys as blobs wrapped by key
	// custody and stored with the identity (one HSM key-encryption key for
	// millions of citizens) instead of one named custody key each.
	Wrapped hsm.WrappedCustody
	// Sealer, when set, encrypts officers' TOTP secrets at rest; a secret
	// still stored in clear is sealed at the officer's next sign-in. Nil
	// keeps them in clear (tests of other packages only).
	Sealer hsm.Sealer
	// Audit receives a pseudonymised copy of every recorded event (nil:
	// none; the registration records keep them all the same).
	Audit Auditor
	// Clock replaces time.Now; Rand replaces crypto/rand.Reader.
	Clock func() time.Time
	Rand  io.Reader
}

// Service is the registration authority. Safe for concurrent use.
type Service struct {
	st   Store
	keys hsm.Custody
	ca   CA
	opts Options
	wa   *webauthn.WebAuthn
}

// New returns the service over its store, key custody and CA.
func New(st Store, keys hsm.Custody, authority CA, opts Options) (*Service, error) {
	if st == nil || keys == nil || authority == nil {
		return nil, errors.New("new enrollment service: store, key custody and CA are required")
	}
	setDefaults(&opts)
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          opts.RPID,
		RPDisplayName: opts.RPName,
		RPOrigins:     opts.Origins,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationRequired,
		},
		AttestationPreference: protocol.PreferNoAttestation,
	})
	if err != nil {
		return nil, fmt.Errorf("new enrollment service: webauthn: %w", err)
	}
	return &Service{st: st, keys: keys, ca: authority, opts: opts, wa: wa}, nil
}

func setDefaults(o *Options) {
	if o.RPID == "" {
		o.RPID = "localhost"
	}
	if len(o.Origins) == 0 {
		o.Origins = []string{"http://localhost:8080"}
	}
	if o.RPName == "" {
		o.RPName = "Thiqa"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.CodeTTL, 15*time.Minute)
	def(&o.CeremonyTTL, 5*time.Minute)
	def(&o.OfficerSessionTTL, 8*time.Hour)
	def(&o.CitizenSessionTTL, 15*time.Minute)
	def(&o.LockFor, 15*time.Minute)
	def(&o.StepUp, 5*time.Minute)
	if o.CodeAttempts <= 0 {
		o.CodeAttempts = 5
	}
	if o.SignInFailures <= 0 {
		o.SignInFailures = 5
	}
	if o.Argon2.Time == 0 || o.Argon2.MemoryKiB == 0 || o.Argon2.Threads == 0 {
		o.Argon2 = DefaultArgon2
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
}

func (s *Service) now() time.Time { return s.opts.Clock().UTC() }

// random returns n random bytes.
func (s *Service) random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.opts.Rand, b); err != nil {
		return nil, fmt.Errorf("read randomness: %w", err)
	}
	return b, nil
}

func (s *Service) randomID(n int) (string, error) {
	b, err := s.random(n)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Principal kinds.
const (
	KindOfficer  = "officer"
	KindCitizen  = "citizen"
	KindOperator = "operator" // a local operator on the command line
)

// Principal is who is acting: a signed-in officer or citizen, or a local
// operator.
type Principal struct {
	Kind string `json:"kind"`
	// Officers.
	Username string `json:"username,omitempty"`
	Role     string `json:"role,omitempty"`
	Centre   string `json:"centre,omitempty"`
	// Citizens.
	IdentityID string `json:"identity_id,omitempty"`
	NationalID string `json:"national_id,omitempty"`
	Credential []byte `json:"-"`
	// AuthTime is when the session was opened.
	AuthTime time.Time `json:"auth_time"`
}

// Operator is the principal of local administration commands.
func Operator(name string) Principal { return Principal{Kind: KindOperator, Username: name} }

func (p Principal) actor() string {
	switch p.Kind {
	case KindCitizen:
		return "citizen:" + p.NationalID
	case KindOfficer, KindOperator:
		return p.Kind + ":" + p.Username
	}
	return "unknown"
}

func (p Principal) isAdmin() bool {
	return p.Kind == KindOperator || (p.Kind == KindOfficer && p.Role == store.RoleAdmin)
}

func (p Principal) isOfficer() bool { return p.Kind == KindOfficer }

// mayActOn reports whether an officer may change an identity: admins any,
// officers and supervisors those whose latest enrollment was at their
// centre.
func (p Principal) mayActOn(id store.Identity) error {
	switch {
	case p.isAdmin():
		return nil
	case p.isOfficer() && p.Centre != "" && p.Centre == id.Centre:
		return nil
	case p.Kind == KindCitizen && p.IdentityID == id.ID && p.NationalID == id.NationalID:
		return nil
	}
	return fmt.Errorf("%w: %s on an identity of centre %s", ErrForbidden, p.actor(), id.Centre)
}

func identitySubject(nid string) string { return "identity:" + nid }

// event builds an event of the principal.
func (s *Service) event(p Principal, action, subject, why, detail string) store.Event {
	return store.Event{At: s.now(), Actor: p.actor(), Action: action, Subject: subject, Why: why, Detail: detail}
}

// notFound maps the store's ErrNotFound to the package's.
func notFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return err
}
