package oidc

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/thiqa/thiqa/store"
)

// token is an issued access or refresh token: the document of a
// store.OIDCAccessToken or store.OIDCRefresh entry.
type token struct {
	ClientID, Subject, IdentityID, NationalID string
	Scopes                                    []string
	AuthTime                                  time.Time
	Expires                                   time.Time
	// Refresh tokens only: Used is set when the token is rotated; the
	// entry stays until the family expires so that its reuse is
	// detected.
	Used bool `json:",omitempty"`
}

// familyTTL is how long tokens issued from one authorization may live:
// the refresh token family's absolute lifetime when offline access was
// asked for, an access token's otherwise.
func (p *Provider) familyTTL(offline bool) time.Duration {
	if offline {
		return max(p.opts.RefreshTTL, p.opts.TokenTTL)
	}
	return p.opts.TokenTTL
}

// tokenFrom is the token an authorization request's sign-in grants.
func tokenFrom(a *authRequest) token {
	return token{ClientID: a.ClientID, Subject: a.Subject, IdentityID: a.IdentityID, NationalID: a.NationalID,
		Scopes: a.Scopes, AuthTime: a.AuthTime}
}

// putAccess stores a new access token of grant and returns its ID.
func (s *storage) putAccess(ctx context.Context, t token, grant string) (string, time.Time, error) {
	id, err := s.newID()
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.p.now()
	t.Expires, t.Used = now.Add(s.p.opts.TokenTTL), false
	e, err := entry(store.OIDCAccessToken, hashKey(id), t, t.Expires)
	if err != nil {
		return "", time.Time{}, err
	}
	e.Identity, e.Grant = t.IdentityID, grant
	if err := s.st.InsertOIDC(ctx, e, now); err != nil {
		return "", time.Time{}, err
	}
	return id, t.Expires, nil
}

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	a, ok := req.(*authRequest)
	if !ok {
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	if err := s.claim(ctx, a); err != nil {
		return "", time.Time{}, err
	}
	id, exp, err := s.putAccess(ctx, tokenFrom(a), a.ID)
	if err != nil {
		return "", time.Time{}, err
	}
	if err := s.redeemed(ctx, a); err != nil {
		return "", time.Time{}, err
	}
	return id, exp, nil
}

// refreshRequest is a refresh token presented at the token endpoint.
type refreshRequest struct {
	t      token
	grant  string
	scopes []string
	// expires is the family's absolute end, which rotation keeps.
	expires time.Time
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string                 { return amr }
func (r *refreshRequest) GetAudience() []string            { return []string{r.t.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time           { return r.t.AuthTime }
func (r *refreshRequest) GetClientID() string              { return r.t.ClientID }
func (r *refreshRequest) GetScopes() []string              { return r.scopes }
func (r *refreshRequest) GetSubject() string               { return r.t.Subject }
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.scopes = scopes }

// errRefreshReused: a rotated refresh token came back.
var errRefreshReused = errors.New("refresh token used before")

// CreateAccessAndRefreshTokens issues an access token and a refresh token:
// the first of a family after a code exchange with offline_access, or the
// next one when current is rotated. Rotation consumes current atomically
// across replicas; a refresh token presented twice revokes its whole
// family (OAuth 2.0 Security BCP, RFC 9700 section 4.14.2).
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	now := s.p.now()
	var t token
	var grant string
	var familyEnd time.Time
	switch r := req.(type) {
	case *authRequest:
		if err := s.claim(ctx, r); err != nil {
			return "", "", time.Time{}, err
		}
		t, grant, familyEnd = tokenFrom(r), r.ID, now.Add(s.p.opts.RefreshTTL)
	case *refreshRequest:
		_, e, err := update(ctx, s, store.OIDCRefresh, hashKey(current), func(_ *store.OIDCEntry, old *token) error {
			if old.Used {
				return errRefreshReused
			}
			old.Used = true
			return nil
		})
		if errors.Is(err, errRefreshReused) {
			s.revokeGrant(ctx, e, "oidc-refresh-reused")
		}
		if err != nil {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token unknown, used or expired")
		}
		t, grant, familyEnd = r.t, r.grant, r.expires
		t.Scopes = r.scopes
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.p.opts.Rand, b); err != nil {
		return "", "", time.Time{}, err
	}
	refresh := base64.RawURLEncoding.EncodeToString(b)
	rt := t
	rt.Expires, rt.Used = familyEnd, false
	e, err := entry(store.OIDCRefresh, hashKey(refresh), rt, familyEnd)
	if err != nil {
		return "", "", time.Time{}, err
	}
	e.Identity, e.Grant = t.IdentityID, grant
	if err := s.st.InsertOIDC(ctx, e, now); err != nil {
		return "", "", time.Time{}, err
	}
	id, exp, err := s.putAccess(ctx, t, grant)
	if err != nil {
		return "", "", time.Time{}, err
	}
	if a, ok := req.(*authRequest); ok {
		if err := s.redeemed(ctx, a); err != nil {
			return "", "", time.Time{}, err
		}
	}
	return id, refresh, exp, nil
}

// TokenRequestByRefreshToken finds a live refresh token. A rotated one
// revokes its family; one whose citizen can no longer sign in (revoked,
// not yet re-activated) is refused.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, refresh string) (op.RefreshTokenRequest, error) {
	var t token
	e, err := s.load(ctx, store.OIDCRefresh, hashKey(refresh), &t)
	if err != nil {
		return nil, op.ErrInvalidRefreshToken
	}
	if t.Used {
		s.revokeGrant(ctx, e, "oidc-refresh-reused")
		return nil, errRefreshReused
	}
	// The citizen must still be able to sign in (active, or suspended:
	// suspension stops signing, not sign-in).
	v, err := s.p.d.Citizens.Me(ctx, citizen(t.IdentityID, t.NationalID))
	if err != nil || (v.State != store.IdentityActive && v.State != store.IdentitySuspended) {
		return nil, errors.New("the citizen can no longer sign in")
	}
	return &refreshRequest{t: t, grant: e.Grant, scopes: t.Scopes, expires: e.Expires}, nil
}

// refreshPrefix marks the token IDs GetRefreshTokenInfo hands RevokeToken.
const refreshPrefix = "refresh:"

// GetRefreshTokenInfo finds the client's refresh token for revocation.
func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, refresh string) (string, string, error) {
	var t token
	if _, err := s.load(ctx, store.OIDCRefresh, hashKey(refresh), &t); err != nil || t.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.Subject, refreshPrefix + hashKey(refresh), nil
}

// RevokeToken revokes the client's access token, or its refresh token
// with the whole family (RFC 7009 section 2.1). Unknown tokens and other
// clients' tokens are ignored, as RFC 7009 asks.
func (s *storage) RevokeToken(ctx context.Context, tokenID, subject, clientID string) *oidc.Error {
	var t token
	if key, ok := strings.CutPrefix(tokenID, refreshPrefix); ok {
		if e, err := s.load(ctx, store.OIDCRefresh, key, &t); err == nil && t.ClientID == clientID {
			s.revokeGrant(ctx, e, "oidc-token-revoked")
		}
		return nil
	}
	if e, err := s.load(ctx, store.OIDCAccessToken, hashKey(tokenID), &t); err == nil && t.ClientID == clientID {
		if err := s.st.DeleteOIDC(ctx, e.Kind, e.Key); err != nil {
			return oidc.ErrServerError()
		}
		return nil
	}
	// A refresh token sent with token_type_hint=access_token.
	if e, err := s.load(ctx, store.OIDCRefresh, hashKey(tokenID), &t); err == nil && t.ClientID == clientID {
		s.revokeGrant(ctx, e, "oidc-token-revoked")
	}
	return nil
}

// accessToken returns the live access token tokenID of subject.
func (s *storage) accessToken(ctx context.Context, tokenID, subject string) (token, error) {
	var t token
	if _, err := s.load(ctx, store.OIDCAccessToken, hashKey(tokenID), &t); err != nil || t.Subject != subject {
		return token{}, errors.New("access token unknown or expired")
	}
	return t, nil
}

func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	t, err := s.accessToken(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	return s.p.userinfo(ctx, ui, t)
}

// SetIntrospectionFromToken answers a client about its own access tokens
// only (another agency's token is reported inactive), without personal
// claims: the subject, scopes, times and authentication.
func (s *storage) SetIntrospectionFromToken(ctx context.Context, r *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.accessToken(ctx, tokenID, subject)
	if err != nil || t.ClientID != clientID {
		return errors.New("access token unknown, expired or of another client")
	}
	r.Scope, r.ClientID, r.TokenType = t.Scopes, t.ClientID, oidc.BearerToken
	r.Expiration, r.AuthTime = oidc.FromTime(t.Expires), oidc.FromTime(t.AuthTime)
	r.Subject, r.Audience, r.Issuer = t.Subject, []string{t.ClientID}, s.p.issuer
	r.AuthenticationMethodsReferences = amr
	return nil
}
