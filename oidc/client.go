package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/thiqa/thiqa/store"
)

// ScopeNationalID is the scope that releases the national_id claim; only
// clients registered with it may be granted it.
const ScopeNationalID = "national_id"

// Clients is where relying parties and the deployment secret live
// (*store.Bolt).
type Clients interface {
	OIDCClient(ctx context.Context, id string) (store.OIDCClient, error)
	OIDCSecret(ctx context.Context) ([]byte, error)
}

// Registry registers relying parties (*store.Bolt).
type Registry interface {
	PutOIDCClient(ctx context.Context, c store.OIDCClient) error
}

var (
	_ Clients  = (*store.Bolt)(nil)
	_ Registry = (*store.Bolt)(nil)
)

// Registration is an agency's portal to register.
type Registration struct {
	NameAr, NameEn         string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// JWKS, when set, makes the client authenticate with private_key_jwt
	// using these public keys; otherwise a client secret is issued.
	JWKS   []byte
	Scopes []string
	// BackChannelLogoutURI receives logout tokens (https, or http on
	// loopback).
	BackChannelLogoutURI string
	// Sector groups clients that may share subjects; default the client ID.
	Sector string
}

// Register checks and stores a relying party. It returns the client and,
// for secret clients, the secret (shown once; only its hash is stored).
func Register(ctx context.Context, reg Registry, r Registration, rnd io.Reader, now time.Time) (store.OIDCClient, string, error) {
	fail := func(err error) (store.OIDCClient, string, error) {
		return store.OIDCClient{}, "", fmt.Errorf("register oidc client: %w", err)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	if r.NameEn == "" || r.NameAr == "" {
		return fail(fmt.Errorf("%w: names in Arabic and English required", ErrInvalidClient))
	}
	if len(r.RedirectURIs) == 0 {
		return fail(fmt.Errorf("%w: at least one redirect URI required", ErrInvalidClient))
	}
	for _, u := range append(slices.Clone(r.RedirectURIs), r.PostLogoutRedirectURIs...) {
		if err := checkRedirect(u); err != nil {
			return fail(err)
		}
	}
	if r.BackChannelLogoutURI != "" {
		if err := checkRedirect(r.BackChannelLogoutURI); err != nil {
			return fail(err)
		}
	}
	for _, s := range r.Scopes {
		if s != ScopeNationalID {
			return fail(fmt.Errorf("%w: unknown scope %q", ErrInvalidClient, s))
		}
	}
	idb := make([]byte, 16)
	if _, err := io.ReadFull(rnd, idb); err != nil {
		return fail(err)
	}
	c := store.OIDCClient{ID: "rp-" + base64.RawURLEncoding.EncodeToString(idb), NameAr: r.NameAr, NameEn: r.NameEn,
		RedirectURIs: r.RedirectURIs, PostLogoutRedirectURIs: r.PostLogoutRedirectURIs, Scopes: r.Scopes, Sector: r.Sector, Created: now,
		BackChannelLogoutURI: r.BackChannelLogoutURI}
	if c.Sector == "" {
		c.Sector = c.ID
	}
	var secret string
	if len(r.JWKS) > 0 {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(r.JWKS, &set); err != nil || len(set.Keys) == 0 {
			return fail(fmt.Errorf("%w: JWKS unreadable or empty", ErrInvalidClient))
		}
		for _, k := range set.Keys {
			if !k.IsPublic() || k.KeyID == "" {
				return fail(fmt.Errorf("%w: JWKS keys must be public and have a kid", ErrInvalidClient))
			}
		}
		c.AuthMethod, c.JWKS = string(oidc.AuthMethodPrivateKeyJWT), r.JWKS
	} else {
		sb := make([]byte, 32)
		if _, err := io.ReadFull(rnd, sb); err != nil {
			return fail(err)
		}
		secret = base64.RawURLEncoding.EncodeToString(sb)
		h := sha256.Sum256([]byte(secret))
		c.AuthMethod, c.SecretHash = string(oidc.AuthMethodBasic), h[:]
	}
	if err := reg.PutOIDCClient(ctx, c); err != nil {
		return fail(err)
	}
	return c, secret, nil
}

// checkRedirect accepts absolute https URIs, and http only on loopback
// (for development), without fragments.
func checkRedirect(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Fragment != "" || len(s) > 2000 {
		return fmt.Errorf("%w: redirect URI %q must be absolute without fragment", ErrInvalidClient, s)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return fmt.Errorf("%w: redirect URI %q must use https", ErrInvalidClient, s)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// client adapts a stored relying party to op.Client.
type client struct {
	c      store.OIDCClient
	issuer string
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                       { return c.c.ID }
func (c *client) RedirectURIs() []string              { return c.c.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string    { return c.c.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.c.AuthMethod == string(oidc.AuthMethodPrivateKeyJWT) {
		return oidc.AuthMethodPrivateKeyJWT
	}
	if c.c.AuthMethod == string(oidc.AuthMethodPost) {
		return oidc.AuthMethodPost
	}
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(id string) string {
	return c.issuer + "/login?id=" + url.QueryEscape(id)
}
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return 5 * time.Minute }

// DevMode lets a client registered with http loopback redirect URIs use
// them; registration refuses any other http URI.
func (c *client) DevMode() bool {
	for _, u := range c.c.RedirectURIs {
		if p, err := url.Parse(u); err == nil && p.Scheme == "http" {
			return true
		}
	}
	return false
}
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(scope string) bool     { return slices.Contains(c.c.Scopes, scope) }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
