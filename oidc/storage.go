package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/store"
)

// ACRPasskeyInPerson is the acr of every sign-in: identity proofed in
// person at a service centre, authenticated with a passkey with user
// verification.
const ACRPasskeyInPerson = "urn:thiqa:acr:in-person-proofed:passkey-uv"

// authRequest is an authorization request and, once signed in, its
// result. It is the document of a store.OIDCAuthRequest entry.
type authRequest struct {
	ID, ClientID, RedirectURI, State, Nonce string
	Scopes                                  []string
	ResponseType                            oidc.ResponseType
	ResponseMode                            oidc.ResponseMode
	Challenge                               *oidc.CodeChallenge
	Created                                 time.Time

	// After sign-in.
	IdentityID, NationalID, Subject string
	AuthTime                        time.Time
	Browser                         []byte // SHA-256 of the binding cookie
	Consented                       bool
	// CodeIssued is when the code was issued (the code itself is kept
	// only as the key of its store.OIDCCode entry, hashed).
	CodeIssued time.Time

	// codeKey is the key of the code being exchanged for this request,
	// set by AuthRequestByCode for claim and redeemed (never stored).
	codeKey string
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                         { return a.ID }
func (a *authRequest) GetACR() string                        { return ACRPasskeyInPerson }
func (a *authRequest) GetAMR() []string                      { return amr }
func (a *authRequest) GetAudience() []string                 { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.AuthTime }
func (a *authRequest) GetClientID() string                   { return a.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.Challenge }
func (a *authRequest) GetNonce() string                      { return a.Nonce }
func (a *authRequest) GetRedirectURI() string                { return a.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.ResponseMode }
func (a *authRequest) GetScopes() []string                   { return a.Scopes }
func (a *authRequest) GetState() string                      { return a.State }
func (a *authRequest) GetSubject() string                    { return a.Subject }
func (a *authRequest) Done() bool                            { return a.Consented }

// amr are the authentication methods of every sign-in.
var amr = []string{"hwk", "user", "mfa"}

// code is the document of a store.OIDCCode entry.
type code struct {
	Issued time.Time
	// Used is set, at Claimed, by the one exchange that consumes the
	// code, and Redeemed once the tokens it issues are stored; the entry
	// then stays as long as those tokens may live, so that a replay
	// revokes them. Between the two, for at most exchangeWindow, the
	// code coming back is an exchange racing the first one (another
	// replica, a client's retry): it is refused and revokes nothing.
	Used, Redeemed bool
	Claimed        time.Time `json:",omitzero"`
	// Offline: the request asked for offline_access (refresh tokens may
	// be issued from the code).
	Offline bool
}

// exchangeWindow bounds how long an exchange may take between claiming
// its code and storing its tokens. A code that comes back later than
// that after its claim is a replay even if the first exchange never
// finished (its replica stopped): it revokes whatever the grant holds,
// and the first exchange, if it does go on, then fails.
const exchangeWindow = time.Minute

// inFlight reports whether the code is claimed by an exchange that may
// still be storing its tokens.
func (d *code) inFlight(now time.Time) bool {
	return d.Used && !d.Redeemed && !d.Claimed.IsZero() && now.Sub(d.Claimed) < exchangeWindow
}

// session is a citizen's single sign-on session in one browser, the
// document of a store.OIDCSession entry.
type session struct {
	IdentityID, NationalID string
	AuthTime, Expires      time.Time
}

// storage implements op.Storage on the shared State.
type storage struct {
	p  *Provider
	st State
	// created counts authorization requests, for maybePurge.
	created atomic.Uint64
}

var _ op.Storage = (*storage)(nil)

// firstUse records a client assertion's jti and reports whether it is new
// to every replica.
func (s *storage) firstUse(ctx context.Context, issuer, jti string, exp time.Time) bool {
	if jti == "" {
		return false
	}
	now := s.p.now()
	if !exp.After(now) {
		exp = now.Add(time.Minute)
	}
	e := store.OIDCEntry{Kind: store.OIDCAssertion, Key: hashKey(issuer + "\x00" + jti), Expires: exp}
	return s.st.InsertOIDC(ctx, e, now) == nil
}

func (s *storage) newID() (string, error) {
	b := make([]byte, 24)
	if _, err := io.ReadFull(s.p.opts.Rand, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method S256 is required")
	}
	if req.ResponseType != oidc.ResponseTypeCode {
		return nil, oidc.ErrInvalidRequest().WithDescription("only the authorization code flow is supported")
	}
	if err := s.limitClient(ctx, req.ClientID); err != nil {
		return nil, err
	}
	id, err := s.newID()
	if err != nil {
		return nil, oidc.ErrServerError()
	}
	now := s.p.now()
	a := &authRequest{ID: id, ClientID: req.ClientID, RedirectURI: req.RedirectURI, State: req.State, Nonce: req.Nonce,
		Scopes: req.Scopes, ResponseType: req.ResponseType, ResponseMode: req.ResponseMode,
		Challenge: &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod}, Created: now}
	e, err := entry(store.OIDCAuthRequest, id, a, now.Add(s.p.opts.RequestTTL))
	if err == nil {
		// The request is its own grant: revoking the grant ends it too.
		e.Grant = id
		err = s.st.InsertOIDC(ctx, e, now)
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	s.maybePurge(ctx, now)
	return a, nil
}

// request returns a live request.
func (s *storage) request(ctx context.Context, id string) (authRequest, error) {
	var a authRequest
	_, err := s.load(ctx, store.OIDCAuthRequest, id, &a)
	if notFound(err) {
		return a, ErrUnknownRequest
	}
	return a, err
}

// updateRequest changes a live request atomically.
func (s *storage) updateRequest(ctx context.Context, id string, f func(a *authRequest) error) (authRequest, error) {
	a, _, err := update(ctx, s, store.OIDCAuthRequest, id, func(e *store.OIDCEntry, a *authRequest) error {
		if err := f(a); err != nil {
			return err
		}
		e.Identity = a.IdentityID
		if end := a.CodeIssued.Add(s.p.opts.CodeTTL); end.After(e.Expires) {
			e.Expires = end
		}
		return nil
	})
	if notFound(err) {
		return a, ErrUnknownRequest
	}
	return a, err
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	a, err := s.request(ctx, id)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// errCodeUsed: the code was exchanged before; errCodeInFlight: another
// exchange of the code is storing its tokens.
var (
	errCodeUsed     = errors.New("authorization code used before")
	errCodeInFlight = errors.New("authorization code being exchanged by another request")
	errCodeExpired  = errors.New("authorization code expired")
)

// checkCode says whether the code may be exchanged now: errCodeInFlight
// while the exchange that claimed it may be storing its tokens,
// errCodeUsed once it has (or past exchangeWindow), errCodeExpired past
// [Options.CodeTTL].
func (s *storage) checkCode(d *code, now time.Time) error {
	if d.inFlight(now) {
		return errCodeInFlight
	}
	if d.Used {
		return errCodeUsed
	}
	if now.Sub(d.Issued) > s.p.opts.CodeTTL {
		return errCodeExpired
	}
	return nil
}

// refuseCode is the error of an exchange refused by checkCode (or not
// finding its code e). A replayed code revokes the tokens issued from it
// (OAuth 2.0 Security BCP, RFC 9700 section 4.5.3.1); an exchange racing
// the one that claimed the code revokes nothing, as nothing was issued
// yet.
func (s *storage) refuseCode(ctx context.Context, e store.OIDCEntry, err error) error {
	switch {
	case errors.Is(err, errCodeInFlight), errors.Is(err, errCodeExpired):
		return err
	case errors.Is(err, errCodeUsed):
		s.revokeGrant(ctx, e, "oidc-code-replayed")
		return errors.New("authorization code used before: the tokens issued from it are revoked")
	}
	return errors.New("unknown, used or expired authorization code")
}

// AuthRequestByCode finds the request of a code that may be exchanged.
// It does not use the code up: the library checks the client and the
// PKCE verifier next, and only then does token creation claim the code
// (claim), so that a party without them cannot spend it.
func (s *storage) AuthRequestByCode(ctx context.Context, c string) (op.AuthRequest, error) {
	var d code
	e, err := s.load(ctx, store.OIDCCode, hashKey(c), &d)
	if err == nil {
		err = s.checkCode(&d, s.p.now())
	}
	if err != nil {
		return nil, s.refuseCode(ctx, e, err)
	}
	a, err := s.request(ctx, e.Grant)
	if err != nil || a.CodeIssued.IsZero() || !a.CodeIssued.Equal(d.Issued) {
		return nil, errCodeExpired
	}
	a.codeKey = e.Key
	return &a, nil
}

// claim consumes a's code, once across every replica: of exchanges
// racing for it exactly one claims it, the others are refused by
// checkCode.
func (s *storage) claim(ctx context.Context, a *authRequest) error {
	now := s.p.now()
	_, e, err := update(ctx, s, store.OIDCCode, a.codeKey, func(e *store.OIDCEntry, d *code) error {
		if err := s.checkCode(d, now); err != nil {
			return err
		}
		d.Used, d.Claimed = true, now
		e.Expires = now.Add(s.p.familyTTL(d.Offline))
		return nil
	})
	if err != nil {
		return oidc.ErrInvalidGrant().WithDescription("invalid code").WithParent(s.refuseCode(ctx, e, err))
	}
	return nil
}

// redeemed records that the tokens exchanged for a's code are stored:
// from now on the code coming back is a replay that revokes them. A code
// gone meanwhile (a replay past exchangeWindow revoked the grant, or the
// citizen signed out) takes the tokens just stored with it, and the
// exchange fails.
func (s *storage) redeemed(ctx context.Context, a *authRequest) error {
	_, _, err := update(ctx, s, store.OIDCCode, a.codeKey, func(_ *store.OIDCEntry, d *code) error {
		if !d.Used || d.Redeemed {
			return errCodeUsed
		}
		d.Redeemed = true
		return nil
	})
	if err != nil {
		s.st.DeleteOIDCByGrant(ctx, a.ID)
		return oidc.ErrInvalidGrant().WithDescription("authorization code revoked during the exchange")
	}
	return nil
}

// revokeGrant deletes every token descending from e's grant and audits
// why.
func (s *storage) revokeGrant(ctx context.Context, e store.OIDCEntry, why string) {
	if e.Grant == "" {
		return
	}
	gone, _ := s.st.DeleteOIDCByGrant(ctx, e.Grant)
	s.p.d.Audit.Append(ctx, audit.Event{Actor: "citizen:" + e.Identity, Action: why, Subject: "oidc-grant:" + e.Grant,
		Details: map[string]any{"revoked": len(gone)}})
}

func (s *storage) SaveAuthCode(ctx context.Context, id, c string) error {
	now := s.p.now()
	a, err := s.updateRequest(ctx, id, func(a *authRequest) error {
		if !a.Consented || !a.CodeIssued.IsZero() {
			return ErrNotSignedIn
		}
		a.CodeIssued = now
		return nil
	})
	if err != nil {
		return err
	}
	e, err := entry(store.OIDCCode, hashKey(c), code{Issued: now, Offline: slices.Contains(a.Scopes, oidc.ScopeOfflineAccess)}, now.Add(s.p.opts.CodeTTL))
	if err != nil {
		return err
	}
	e.Identity, e.Grant = a.IdentityID, a.ID
	return s.st.InsertOIDC(ctx, e, now)
}

func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	return s.st.DeleteOIDC(ctx, store.OIDCAuthRequest, id)
}

// TerminateSession is single sign-out: the citizen whom subject names at
// clientID loses every single sign-on session, pending request and token,
// at every agency and on every replica.
func (s *storage) TerminateSession(ctx context.Context, subject, clientID string) error {
	e, err := s.st.OIDC(ctx, store.OIDCSignIn, signInKey(clientID, subject), s.p.now())
	if notFound(err) {
		return nil
	}
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	gone, err := s.st.DeleteOIDCByIdentity(ctx, e.Identity)
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	var parties []signedOut
	for _, g := range gone {
		if g.Kind == store.OIDCSignIn {
			client, sub, _ := strings.Cut(g.Key, " ")
			parties = append(parties, signedOut{clientID: client, subject: sub})
		}
	}
	s.p.notifyLogout(ctx, parties)
	return nil
}

// signInKey keys the record that the citizen signed in at a client under
// a pairwise subject (client IDs and subjects hold no spaces).
func signInKey(clientID, subject string) string { return clientID + " " + subject }

func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	return signingKey{s.p.keys[len(s.p.keys)-1]}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	out := make([]op.Key, 0, len(s.p.keys))
	for _, k := range s.p.keys {
		out = append(out, publicKey{k})
	}
	return out, nil
}

// GetClientByClientID finds a relying party; an unknown one is
// invalid_client (the refresh grant would otherwise answer server_error).
func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.p.d.Clients.OIDCClient(ctx, id)
	if errors.Is(err, store.ErrOIDCClientNotFound) {
		return nil, oidc.ErrInvalidClient().WithParent(err)
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return &client{c: c, issuer: s.p.issuer}, nil
}

// AuthorizeClientIDSecret compares the secret's hash in constant time.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	c, err := s.p.d.Clients.OIDCClient(ctx, id)
	h := sha256.Sum256([]byte(secret))
	if err != nil || len(c.SecretHash) != len(h) || subtle.ConstantTimeCompare(c.SecretHash, h[:]) != 1 {
		return errors.New("invalid client credentials")
	}
	return nil
}

// SetUserinfoFromScopes keeps the ID token to the subject and the
// authentication claims; the other claims come from userinfo.
func (s *storage) SetUserinfoFromScopes(_ context.Context, ui *oidc.UserInfo, subject, _ string, _ []string) error {
	ui.Subject = subject
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID finds a private_key_jwt client's public key.
func (s *storage) GetKeyByIDAndClientID(ctx context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	c, err := s.p.d.Clients.OIDCClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(c.JWKS, &set); err != nil {
		return nil, fmt.Errorf("client keys: %w", err)
	}
	for _, k := range set.Key(keyID) {
		return &k, nil
	}
	return nil, errors.New("client key not found")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("jwt profile grant is not offered")
}

// Health answers the library's readiness probe: the shared state must
// answer a lookup (finding nothing is healthy).
func (s *storage) Health(ctx context.Context) error {
	_, err := s.st.OIDC(ctx, store.OIDCSession, "health", s.p.now())
	if err == nil || notFound(err) {
		return nil
	}
	return err
}

// pairwise is the subject of identity for a sector.
func pairwise(secret []byte, sector, identity string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(sector))
	m.Write([]byte{0})
	m.Write([]byte(identity))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// citizen is the principal the userinfo claims are read as.
func citizen(identityID, nationalID string) enrollment.Principal {
	return enrollment.Principal{Kind: enrollment.KindCitizen, IdentityID: identityID, NationalID: nationalID}
}
