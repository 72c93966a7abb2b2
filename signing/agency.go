package signing

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/store"
)

// Agency scopes.
const (
	ScopeSignRequests = "sign-requests"
	ScopeVerify       = "verify"
)

// Scopes lists the scopes an agency may be given.
var Scopes = []string{ScopeSignRequests, ScopeVerify}

// apiKeyPrefix starts every agency API key, so that leaked keys are easy
// to find in logs and repositories.
const apiKeyPrefix = "thq_"

// NewAgency describes an agency to register.
type NewAgency struct {
	Name       string
	Scopes     []string
	WebhookURL string
	// CertDER is the agency's e-seal certificate for mutual TLS (optional).
	CertDER []byte
	// By names who adds the agency in the audit log (AddAgency only;
	// default "operator").
	By string
}

// AgencyKey is a registered agency and its API key, shown once.
type AgencyKey struct {
	Agency store.Agency
	// Key is "thq_<agency id>_<secret>"; only its hash is kept.
	Key string
	// WebhookSecret signs the webhooks (HMAC-SHA256); shown once too.
	WebhookSecret string
}

// AddAgency registers an agency with a fresh random API key. It is the
// operator's path (thiqa admin agency add on the server); administrators
// on the web ask with RequestAgency and a second one approves.
func (s *Service) AddAgency(ctx context.Context, n NewAgency) (AgencyKey, error) {
	fail := func(err error) (AgencyKey, error) { return AgencyKey{}, fmt.Errorf("add agency: %w", err) }
	if err := checkAgency(&n); err != nil {
		return fail(err)
	}
	k, err := s.newAgency(n)
	if err != nil {
		return fail(err)
	}
	by := strings.TrimSpace(n.By)
	if by == "" {
		by = "operator"
	}
	var kept *audit.Event
	err = s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		if err := insertAgency(tx, k.Agency); err != nil {
			return err
		}
		var err error
		kept, err = s.keepAudit(tx, agencySource, agencyEvent(by, "agency.added", k.Agency, addedDetails(k.Agency)))
		return err
	})
	if err != nil {
		return fail(err)
	}
	if err := s.appendKept(ctx, kept); err != nil {
		return fail(err)
	}
	return k, nil
}

// addedDetails are what an agency.added record says beyond the name and
// the key's fingerprint: what the agency may do and where it is told.
func addedDetails(a store.Agency) map[string]any {
	return map[string]any{"scopes": a.Scopes, "webhook_url": a.WebhookURL, "mtls_cert_sha256": fmt.Sprintf("%x", a.CertSHA256)}
}

// checkAgency trims and checks an agency's name, scopes and webhook URL.
func checkAgency(n *NewAgency) error {
	n.Name = strings.TrimSpace(n.Name)
	if n.Name == "" || !utf8.ValidString(n.Name) || utf8.RuneCountInString(n.Name) > 200 {
		return fmt.Errorf("%w: name must be 1 to 200 characters", ErrInvalid)
	}
	if len(n.Scopes) == 0 {
		return fmt.Errorf("%w: at least one scope", ErrInvalid)
	}
	for _, sc := range n.Scopes {
		if !slices.Contains(Scopes, sc) {
			return fmt.Errorf("%w: unknown scope %q", ErrInvalid, sc)
		}
	}
	if n.WebhookURL != "" {
		u, err := url.Parse(n.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(n.WebhookURL) > 2048 {
			return fmt.Errorf("%w: webhook URL", ErrInvalid)
		}
	}
	return nil
}

// newAgency makes the record of a checked agency with a fresh ID, API key
// and webhook secret.
func (s *Service) newAgency(n NewAgency) (AgencyKey, error) {
	id, err := s.randomID(9)
	if err != nil {
		return AgencyKey{}, err
	}
	id = strings.NewReplacer("-", "A", "_", "B").Replace(id)
	secret, err := s.randomID(32)
	if err != nil {
		return AgencyKey{}, err
	}
	hookSecret, err := s.randomID(32)
	if err != nil {
		return AgencyKey{}, err
	}
	key := apiKeyPrefix + id + "_" + secret
	a := store.Agency{ID: id, Name: n.Name, Scopes: slices.Clone(n.Scopes), KeyHash: keyHash(key),
		WebhookURL: n.WebhookURL, WebhookSecret: []byte(hookSecret), Created: s.now()}
	if len(n.CertDER) > 0 {
		h := sha256.Sum256(n.CertDER)
		a.CertSHA256 = h[:]
	}
	return AgencyKey{Agency: a, Key: key, WebhookSecret: hookSecret}, nil
}

// insertAgency adds a, mapping a taken name to ErrExists.
func insertAgency(tx store.SigningTx, a store.Agency) error {
	err := tx.InsertAgency(a)
	if errors.Is(err, store.ErrDuplicate) {
		err = fmt.Errorf("%w: an agency named %q", ErrExists, a.Name)
	}
	return err
}

func keyHash(key string) []byte {
	h := sha256.Sum256([]byte("thiqa-agency-key-v1\x00" + key))
	return h[:]
}

// AuthenticateAgency finds the agency of an API key, comparing hashes in
// constant time.
func (s *Service) AuthenticateAgency(ctx context.Context, key string) (store.Agency, error) {
	rest, ok := strings.CutPrefix(key, apiKeyPrefix)
	id, _, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || len(key) > 200 || id == "" {
		return store.Agency{}, ErrUnauthenticated
	}
	var a store.Agency
	err := s.st.SigningView(ctx, func(tx store.SigningTx) (err error) {
		a, err = tx.Agency(id)
		return err
	})
	want := keyHash(key)
	if err != nil {
		subtle.ConstantTimeCompare(want, want) // same work as a known agency
		return store.Agency{}, ErrUnauthenticated
	}
	if subtle.ConstantTimeCompare(a.KeyHash, want) != 1 || a.Disabled {
		return store.Agency{}, ErrUnauthenticated
	}
	return a, nil
}

// AuthenticateAgencyCert finds the agency whose e-seal certificate (DER)
// a mutual TLS client presented. The TLS layer has verified the chain.
func (s *Service) AuthenticateAgencyCert(ctx context.Context, der []byte) (store.Agency, error) {
	h := sha256.Sum256(der)
	var found store.Agency
	err := s.st.SigningView(ctx, func(tx store.SigningTx) error {
		all, err := tx.Agencies()
		for _, a := range all {
			if len(a.CertSHA256) > 0 && subtle.ConstantTimeCompare(a.CertSHA256, h[:]) == 1 && !a.Disabled {
				found = a
			}
		}
		return err
	})
	if err != nil || found.ID == "" {
		return store.Agency{}, ErrUnauthenticated
	}
	return found, nil
}

// HasScope reports whether the agency holds scope.
func HasScope(a store.Agency, scope string) bool { return slices.Contains(a.Scopes, scope) }

// EncodeKeyHash is for operators' listings: a short, safe fingerprint.
func EncodeKeyHash(a store.Agency) string {
	return base64.RawURLEncoding.EncodeToString(a.KeyHash[:8])
}

// Agencies lists the registered agencies for administrators' pages,
// without their key hashes and webhook secrets.
func (s *Service) Agencies(ctx context.Context) ([]store.Agency, error) {
	var out []store.Agency
	err := s.st.SigningView(ctx, func(tx store.SigningTx) (err error) {
		out, err = tx.Agencies()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("agencies: %w", err)
	}
	for i := range out {
		out[i].KeyHash, out[i].WebhookSecret = nil, nil
	}
	return out, nil
}
