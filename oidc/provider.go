package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/hsm"
)

// Citizens signs citizens in with passkeys and reads their names
// (*enrollment.Service).
type Citizens interface {
	BeginSignIn(ctx context.Context) (enrollment.Challenge, error)
	FinishSignIn(ctx context.Context, ceremonyID string, response []byte) (enrollment.SessionToken, enrollment.Principal, error)
	SignOut(ctx context.Context, token string) error
	Me(ctx context.Context, by enrollment.Principal) (enrollment.IdentityView, error)
}

var _ Citizens = (*enrollment.Service)(nil)

// Auditor records sign-ins and consents (*audit.Log).
type Auditor interface {
	Append(ctx context.Context, e audit.Event) (audit.Receipt, error)
}

var _ Auditor = (*audit.Log)(nil)

// Deps are the provider's required services.
type Deps struct {
	Citizens Citizens
	Clients  Clients
	Keys     hsm.Custody
	Audit    Auditor
	// State keeps the flow state; replicas share it.
	State State
}

// Options tune the provider; the zero value is safe.
type Options struct {
	Clock func() time.Time
	Rand  io.Reader
	// CodeTTL bounds an authorization code's life (default 1 minute).
	CodeTTL time.Duration
	// RequestTTL bounds sign-in and consent (default 10 minutes).
	RequestTTL time.Duration
	// TokenTTL is an access token's life (default 10 minutes).
	TokenTTL time.Duration
	// HTTPClient sends back-channel logout tokens (default: a client
	// with a 10-second timeout).
	HTTPClient *http.Client
	// SessionTTL bounds a single sign-on session: within it, further
	// agencies' sign-ins in the same browser need no passkey, only
	// consent (default 30 minutes).
	SessionTTL time.Duration
	// RefreshTTL is the absolute lifetime of a refresh token family,
	// issued when a client asks for offline_access: rotation does not
	// extend it (default 7 days).
	RefreshTTL time.Duration
	// Limits bound the authorization requests and passkey ceremonies
	// that unauthenticated browsers make the provider store; the zero
	// value counts nothing.
	Limits Limits
}

// Provider is the OpenID Connect provider.
type Provider struct {
	issuer string
	d      Deps
	opts   Options
	keys   []hsm.Key
	secret []byte
	st     *storage
	op     *op.Provider
}

// New opens the provider at issuer (an absolute URL, e.g.
// https://thiqa.gov.jo/oidc), creating the first signing key in custody
// and the deployment secret when missing.
func New(ctx context.Context, issuer string, d Deps, o Options) (*Provider, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || strings.HasSuffix(issuer, "/") {
		return nil, fmt.Errorf("open oidc provider: issuer %q must be an absolute URL without trailing slash", issuer)
	}
	if d.Citizens == nil || d.Clients == nil || d.Keys == nil || d.Audit == nil || d.State == nil {
		return nil, fmt.Errorf("open oidc provider: missing dependency")
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.CodeTTL <= 0 {
		o.CodeTTL = time.Minute
	}
	if o.RequestTTL <= 0 {
		o.RequestTTL = 10 * time.Minute
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = 10 * time.Minute
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 30 * time.Minute
	}
	if o.RefreshTTL <= 0 {
		o.RefreshTTL = 7 * 24 * time.Hour
	}
	o.Limits.setDefaults()
	p := &Provider{issuer: issuer, d: d, opts: o}
	if p.keys, err = signingKeys(ctx, d.Keys); err != nil {
		return nil, fmt.Errorf("open oidc provider: %w", err)
	}
	if p.secret, err = d.Clients.OIDCSecret(ctx); err != nil {
		return nil, fmt.Errorf("open oidc provider: %w", err)
	}
	p.st = &storage{p: p, st: d.State}
	cfg := &op.Config{
		CodeMethodS256:             true,
		AuthMethodPost:             true,
		AuthMethodPrivateKeyJWT:    true,
		GrantTypeRefreshToken:      true,
		BackChannelLogoutSupported: true,
		SupportedUILocales:         []language.Tag{language.Arabic, language.English},
		SupportedScopes:            []string{oidc.ScopeOpenID, oidc.ScopeProfile, ScopeNationalID, oidc.ScopeOfflineAccess},
		SupportedClaims:            []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr", "azp", "name", "given_name", "family_name", "name#ar", "given_name#ar", "family_name#ar", ScopeNationalID},
	}
	cfg.DefaultLogoutRedirectURI = issuer + "/signed-out"
	copy(cfg.CryptoKey[:], p.derive("access-token-encryption"))
	opts := []op.Option{}
	if u.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(cfg, p.st, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("open oidc provider: %w", err)
	}
	return p, nil
}

func (p *Provider) now() time.Time { return p.opts.Clock() }

func (p *Provider) derive(label string) []byte {
	h := sha256.New()
	h.Write(p.secret)
	h.Write([]byte(label))
	return h.Sum(nil)
}

// Subject is the pairwise subject of identity for the client's sector.
func (p *Provider) subject(sector, identityID string) string {
	return pairwise(p.derive("pairwise-subject"), sector, identityID)
}

// Issuer returns the issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// Handler serves the provider; mount it at the issuer's path with the
// prefix stripped (http.StripPrefix("/oidc", p.Handler())).
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	// Pages and the posts a person's browser makes: cross-origin posts
	// (Sec-Fetch-Site, Origin) are refused before anything else.
	csrf := http.NewCrossOriginProtection()
	mux.HandleFunc("GET /login", p.loginPage)
	mux.Handle("GET /login.js", asset("text/javascript; charset=utf-8", loginJS))
	mux.Handle("GET /pages.css", asset("text/css; charset=utf-8", pagesCSS))
	mux.Handle("POST /login/begin", csrf.Handler(p.limitIP("oidc-login", http.HandlerFunc(p.loginBegin))))
	mux.Handle("POST /login/finish", csrf.Handler(http.HandlerFunc(p.loginFinish)))
	mux.HandleFunc("GET /consent", p.consentPage)
	mux.Handle("POST /consent", csrf.Handler(http.HandlerFunc(p.consent)))
	mux.Handle("/authorize", p.limitIP("oidc-authorize", p.op))
	mux.HandleFunc("POST /oauth/token", p.token)
	mux.HandleFunc("POST /oauth/introspect", p.token)
	mux.HandleFunc("POST /revoke", p.token)
	mux.HandleFunc("GET /signed-out", p.signedOut)
	mux.Handle("/", p.op)
	return mux
}

// token answers invalid_client to a private_key_jwt client whose assertion
// does not verify (RFC 7523 section 3.2; the library would answer
// invalid_grant) or that was used before (its jti is remembered, by every
// replica, until it expires), then hands the request to the library. It
// fronts the token, introspection and revocation endpoints.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "unreadable form"})
		return
	}
	if a := r.PostForm.Get("client_assertion"); a != "" {
		ctx := op.ContextWithIssuer(r.Context(), p.issuer)
		req, err := op.VerifyJWTAssertion(ctx, a, p.op.JWTProfileVerifier(ctx))
		if err != nil || !p.st.firstUse(r.Context(), req.Issuer, req.JWTID, req.ExpiresAt.AsTime()) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "client assertion refused"})
			return
		}
	}
	p.op.ServeHTTP(w, r)
}

// userinfo fills the claims the token's scopes release.
func (p *Provider) userinfo(ctx context.Context, ui *oidc.UserInfo, t token) error {
	ui.Subject = t.Subject
	if slices.Contains(t.Scopes, oidc.ScopeProfile) || slices.Contains(t.Scopes, ScopeNationalID) {
		v, err := p.d.Citizens.Me(ctx, citizen(t.IdentityID, t.NationalID))
		if err != nil {
			return fmt.Errorf("userinfo: %w", err)
		}
		if slices.Contains(t.Scopes, oidc.ScopeProfile) {
			ui.GivenName, ui.FamilyName = v.GivenName, v.Surname
			ui.Name = strings.TrimSpace(v.GivenName + " " + v.Surname)
			ui.AppendClaims("given_name#ar", v.GivenNameAr)
			ui.AppendClaims("family_name#ar", v.SurnameAr)
			ui.AppendClaims("name#ar", strings.TrimSpace(v.GivenNameAr+" "+v.SurnameAr))
		}
		if slices.Contains(t.Scopes, ScopeNationalID) {
			ui.AppendClaims(ScopeNationalID, v.NationalID)
		}
	}
	return nil
}
