package store

import (
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// OIDCKind names a kind of the OpenID provider's flow state.
type OIDCKind string

// The kinds of flow state the OpenID provider keeps (package oidc decides
// what each entry's Doc holds; the store only keys, indexes and expires
// them).
const (
	OIDCAuthRequest OIDCKind = "request"   // authorization request, by its ID
	OIDCCode        OIDCKind = "code"      // authorization code, by its SHA-256
	OIDCAccessToken OIDCKind = "access"    // access token, by the SHA-256 of its ID
	OIDCRefresh     OIDCKind = "refresh"   // refresh token, by its SHA-256
	OIDCSession     OIDCKind = "session"   // single sign-on session, by the SHA-256 of its cookie
	OIDCSignIn      OIDCKind = "signin"    // a citizen signed in at a client, by client ID and pairwise subject
	OIDCAssertion   OIDCKind = "assertion" // a client assertion seen, by issuer and jti
)

// OIDCEntry is one piece of the OpenID provider's flow state, shared by
// every replica. Entries are never returned once Expires has passed, and
// PurgeOIDC deletes them.
type OIDCEntry struct {
	Kind OIDCKind `json:"kind"`
	// Key is unique within the kind. Secrets (codes, tokens, cookies) are
	// keyed by their hash, never stored in clear. Kind, Key, Identity and
	// Grant are UTF-8 without NUL.
	Key string `json:"key"`
	// Identity is the citizen the entry belongs to ("" before sign-in);
	// DeleteOIDCByIdentity ends them all (single sign-out).
	Identity string `json:"identity,omitempty"`
	// Grant is the authorization the entry descends from (the
	// authorization request's ID); DeleteOIDCByGrant revokes them all
	// (a replayed code, a reused refresh token).
	Grant string `json:"grant,omitempty"`
	// Doc is the provider's encoding of the entry, opaque to the store.
	Doc     []byte    `json:"doc,omitempty"`
	Expires time.Time `json:"expires"`
	// AuditPending, set on PutOIDC, is kept pending audit in the put's own
	// transaction ([PendingAudit]); it is not part of the stored entry.
	AuditPending *PendingAudit `json:"-"`
}

// ErrOIDCEntry means an OIDC entry is malformed: no kind, key or expiry,
// or a kind, key, identity or grant that is not UTF-8, holds NUL or is
// longer than 512 bytes.
var ErrOIDCEntry = errors.New("store: oidc entry needs a kind, a key and an expiry")

func (e OIDCEntry) valid() bool {
	for _, s := range []string{string(e.Kind), e.Key, e.Identity, e.Grant} {
		if len(s) > 512 || strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
			return false
		}
	}
	return e.Kind != "" && e.Key != "" && !e.Expires.IsZero()
}
