package store

import (
	"errors"
	"time"
)

// OIDCClient is a relying party of the OpenID Connect provider: an
// agency's portal. Its secret is kept only as a SHA-256 hash (the secret is
// 32 random bytes drawn at registration, so a plain hash suffices).
type OIDCClient struct {
	ID string `json:"id"`
	// Agency names the agency, in Arabic and English, as the consent page
	// shows it.
	NameAr string `json:"name_ar"`
	NameEn string `json:"name_en"`
	// RedirectURIs are matched exactly.
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// BackChannelLogoutURI, when set, receives a logout token when the
	// citizen signs out at any agency (OpenID Connect Back-Channel
	// Logout 1.0).
	BackChannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
	// AuthMethod is client_secret_basic, client_secret_post or
	// private_key_jwt.
	AuthMethod string `json:"auth_method"`
	SecretHash []byte `json:"secret_hash,omitempty"`
	// JWKS holds the client's public keys for private_key_jwt.
	JWKS []byte `json:"jwks,omitempty"`
	// Scopes are the extra scopes the client may be granted (e.g.
	// "national_id"); openid, profile are always allowed.
	Scopes []string `json:"scopes,omitempty"`
	// Sector is the pairwise-subject sector; clients of one sector see
	// the same subject for a citizen. Default: the client ID.
	Sector  string    `json:"sector"`
	Created time.Time `json:"created"`
}

// ErrOIDCClientNotFound means no relying party has that client ID.
var ErrOIDCClientNotFound = errors.New("oidc client not found")
