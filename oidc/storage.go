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
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/thiqa/thiqa/enrollment"
)

// ACRPasskeyInPerson is the acr of every sign-in: identity proofed in
// person at a service centre, authenticated with a passkey with user
// verification.
const ACRPasskeyInPerson = "urn:thiqa:acr:in-person-proofed:passkey-uv"

// authRequest is an authorization request and, once signed in, its
// result.
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
	Code                            string
	CodeIssued                      time.Time
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                         { return a.ID }
func (a *authRequest) GetACR() string                        { return ACRPasskeyInPerson }
func (a *authRequest) GetAMR() []string                      { return []string{"hwk", "user", "mfa"} }
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

// token is an issued access token.
type token struct {
	ID, ClientID, Subject, IdentityID, NationalID string
	Scopes                                        []string
	Expires                                       time.Time
}

// storage implements op.Storage.
type storage struct {
	p *Provider

	mu       sync.Mutex
	requests map[string]*authRequest
	codes    map[string]string // code -> request ID
	tokens   map[string]*token
	// sessions are single sign-on sessions by the SHA-256 of their
	// cookie; subjects map client ID + "\x00" + pairwise subject to the
	// identity, for sign-out.
	sessions map[string]*session
	subjects map[string]string
	// assertions are the client assertions seen (issuer + "\x00" + jti),
	// until they expire.
	assertions map[string]time.Time
}

// firstUse records a client assertion's jti and reports whether it is new.
func (s *storage) firstUse(issuer, jti string, exp time.Time) bool {
	if jti == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.p.now()
	if len(s.assertions) >= s.p.opts.MaxPending {
		for k, e := range s.assertions {
			if now.After(e) {
				delete(s.assertions, k)
			}
		}
		if len(s.assertions) >= s.p.opts.MaxPending {
			return false
		}
	}
	k := issuer + "\x00" + jti
	if _, seen := s.assertions[k]; seen {
		return false
	}
	s.assertions[k] = exp
	return true
}

// session is a citizen's single sign-on session in one browser.
type session struct {
	IdentityID, NationalID string
	AuthTime, Expires      time.Time
}

var _ op.Storage = (*storage)(nil)

var errFull = errors.New("too many pending authorization requests")

func (s *storage) newID() (string, error) {
	b := make([]byte, 24)
	if _, err := io.ReadFull(s.p.opts.Rand, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// purge drops expired requests and tokens; s.mu is held.
func (s *storage) purge(now time.Time) {
	for id, r := range s.requests {
		if now.Sub(r.Created) > s.p.opts.RequestTTL {
			delete(s.requests, id)
			delete(s.codes, r.Code)
		}
	}
	for id, t := range s.tokens {
		if now.After(t.Expires) {
			delete(s.tokens, id)
		}
	}
	for id, ss := range s.sessions {
		if now.After(ss.Expires) {
			delete(s.sessions, id)
		}
	}
	for k, e := range s.assertions {
		if now.After(e) {
			delete(s.assertions, k)
		}
	}
	if len(s.subjects) > s.p.opts.MaxPending {
		clear(s.subjects)
	}
}

func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method S256 is required")
	}
	if req.ResponseType != oidc.ResponseTypeCode {
		return nil, oidc.ErrInvalidRequest().WithDescription("only the authorization code flow is supported")
	}
	id, err := s.newID()
	if err != nil {
		return nil, oidc.ErrServerError()
	}
	now := s.p.now()
	a := &authRequest{ID: id, ClientID: req.ClientID, RedirectURI: req.RedirectURI, State: req.State, Nonce: req.Nonce,
		Scopes: req.Scopes, ResponseType: req.ResponseType, ResponseMode: req.ResponseMode,
		Challenge: &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod}, Created: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) >= s.p.opts.MaxPending {
		s.purge(now)
		if len(s.requests) >= s.p.opts.MaxPending {
			return nil, oidc.ErrServerError().WithDescription("%s", errFull.Error())
		}
	}
	s.requests[id] = a
	return a, nil
}

// request returns a copy of a live request.
func (s *storage) request(id string) (authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok || s.p.now().Sub(a.Created) > s.p.opts.RequestTTL {
		return authRequest{}, ErrUnknownRequest
	}
	return *a, nil
}

// updateRequest changes a live request under the lock.
func (s *storage) updateRequest(id string, f func(a *authRequest) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok || s.p.now().Sub(a.Created) > s.p.opts.RequestTTL {
		return ErrUnknownRequest
	}
	return f(a)
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	a, err := s.request(id)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// AuthRequestByCode consumes the code: a replayed code finds nothing.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, errors.New("unknown or used authorization code")
	}
	delete(s.codes, code)
	a, ok := s.requests[id]
	delete(s.requests, id)
	if !ok || s.p.now().Sub(a.CodeIssued) > s.p.opts.CodeTTL {
		return nil, errors.New("authorization code expired")
	}
	return a, nil
}

func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	return s.updateRequest(id, func(a *authRequest) error {
		if !a.Consented || a.Code != "" {
			return ErrNotSignedIn
		}
		a.Code, a.CodeIssued = code, s.p.now()
		s.codes[code] = id
		return nil
	})
}

func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.requests[id]; ok {
		delete(s.codes, a.Code)
		delete(s.requests, id)
	}
	return nil
}

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	a, ok := req.(*authRequest)
	if !ok {
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	id, err := s.newID()
	if err != nil {
		return "", time.Time{}, err
	}
	exp := s.p.now().Add(s.p.opts.TokenTTL)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(s.p.now())
	if len(s.tokens) >= s.p.opts.MaxPending {
		return "", time.Time{}, errFull
	}
	s.tokens[id] = &token{ID: id, ClientID: a.ClientID, Subject: a.Subject, IdentityID: a.IdentityID, NationalID: a.NationalID, Scopes: a.Scopes, Expires: exp}
	return id, exp, nil
}

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("refresh tokens are not issued")
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

// TerminateSession is single sign-out: the citizen whom subject names at
// clientID loses every single sign-on session and every access token, at
// every agency.
func (s *storage) TerminateSession(ctx context.Context, subject, clientID string) error {
	s.mu.Lock()
	identity, ok := s.subjects[clientID+"\x00"+subject]
	if !ok {
		s.mu.Unlock()
		return nil
	}
	for id, ss := range s.sessions {
		if ss.IdentityID == identity {
			delete(s.sessions, id)
		}
	}
	for id, t := range s.tokens {
		if t.IdentityID == identity {
			delete(s.tokens, id)
		}
	}
	var parties []signedOut
	for k, v := range s.subjects {
		if v == identity {
			client, sub, _ := strings.Cut(k, "\x00")
			parties = append(parties, signedOut{clientID: client, subject: sub})
			delete(s.subjects, k)
		}
	}
	s.mu.Unlock()
	s.p.notifyLogout(ctx, parties)
	return nil
}

func (s *storage) RevokeToken(ctx context.Context, tokenID, subject, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tokenID]; ok && t.ClientID == clientID {
		delete(s.tokens, tokenID)
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

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

func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.p.d.Clients.OIDCClient(ctx, id)
	if err != nil {
		return nil, err
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

func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	var tk token
	if ok {
		tk = *t
	}
	s.mu.Unlock()
	if !ok || s.p.now().After(tk.Expires) || tk.Subject != subject {
		return errors.New("access token unknown or expired")
	}
	return s.p.userinfo(ctx, ui, tk)
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("introspection is not offered")
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

func (s *storage) Health(context.Context) error { return nil }

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
