// Package oidc makes Thiqa an OpenID Connect provider for government
// e-services: a citizen signs in to an agency's portal with the passkey
// registered at activation, and the agency learns who they are.
//
// The protocol is github.com/zitadel/oidc/v3's op package (a certified
// implementation); this package supplies its storage, the relying parties,
// the signing key in key custody and the sign-in and consent pages.
//
// # Endpoints and their authorization
//
// Mounted under the issuer URL (the node serves it at /oidc):
//
//   - GET /.well-known/openid-configuration, GET /keys, GET /login.js,
//     GET /pages.css: anyone.
//   - GET /authorize: anyone; the client must be registered, the
//     redirect_uri must equal one registered for it, and a PKCE
//     code_challenge with method S256 is required (refused with
//     invalid_request otherwise). Calls are limited per address and
//     authorization requests per client (see Limits below).
//   - GET /login, POST /login/begin, POST /login/finish: the browser
//     that holds the authorization request ID; finish requires a passkey
//     assertion with user verification (enrollment.Service.FinishSignIn),
//     and binds the request to that browser with a cookie. Every sign-in
//     and consent is appended to the audit log.
//   - GET /consent, POST /consent: the browser that signed in (cookie
//     bound to the request).
//   - POST /oauth/token: confidential clients only (client_secret_basic,
//     client_secret_post or private_key_jwt); the code is single use across
//     every replica, expires after [Options.CodeTTL] and needs the PKCE
//     verifier; a replayed code revokes the tokens issued from it (see
//     Codes exchanged twice). A client
//     assertion is used once (its jti is remembered in the shared state)
//     and must verify, or the answer is invalid_client. grant_type
//     refresh_token rotates the refresh token (see Refresh tokens).
//   - POST /oauth/introspect (RFC 7662): an authenticated client, about
//     its own access tokens only; no personal claims.
//   - POST /revoke (RFC 7009): an authenticated client, its own tokens; a
//     refresh token takes its whole family with it.
//   - GET/POST /userinfo: a bearer access token issued here.
//   - GET /end_session: anyone with an id_token_hint the provider issued
//     (post_logout_redirect_uri must be registered): single sign-out.
//   - GET /signed-out: where sign-out lands without a redirect URI.
//
// # Limits and page policy
//
// Anyone may call /authorize, and each call that names a registered
// client and redirect URI stores a pending request; /login/begin stores a
// passkey ceremony. [Options.Limits] counts both per client address in the
// store the replicas share (past [Limits.PerIP] the browser gets a 429
// page with Retry-After, never a redirect, and nothing is stored), and the
// requests created per client in each [Options.RequestTTL] (past
// [Limits.PerClient], temporarily_unavailable at the client's verified
// redirect URI, RFC 6749 section 4.1.2.1), so that at most twice
// PerClient requests of one client are pending; and the passkey sign-ins
// per identity ([Limits.PerIdentity], on the API's counter). A store that
// cannot count refuses (503).
//
// The sign-in and consent pages carry a strict Content-Security-Policy
// (default-src 'none'; scripts and fetches from the issuer only, no inline
// script or style, no framing, forms posting only to the provider and the
// agency's verified redirect URI) and Referrer-Policy no-referrer. Their
// posts (login/begin, login/finish, consent) are refused with 403 when
// the browser says they come from another origin
// ([net/http.CrossOriginProtection], Sec-Fetch-Site and Origin), on top of
// the SameSite=Lax cookie that binds the request to the browser that
// signed in for it.
//
// # Sessions
//
// A passkey sign-in opens a single sign-on session (cookie thiqa_sso, for
// [Options.SessionTTL]); another agency's sign-in in the same browser then
// skips the passkey but still asks for consent. Signing out at any agency
// (end_session) ends the citizen's sessions, pending requests, codes and
// access and refresh tokens at every agency, and posts a signed logout
// token (OpenID Connect Back-Channel Logout 1.0) to every portal the
// citizen was signed in to that registered a back-channel logout URI.
//
// # Claims
//
// The subject is pairwise: HMAC-SHA256 of the identity ID keyed with the
// deployment's secret and the client's sector, so two agencies cannot
// correlate their users. Scope profile gives the names in Latin and
// Arabic (name#ar, given_name#ar, family_name#ar); scope national_id gives
// the national number, only when granted to the client. The acr claim is
// [ACRPasskeyInPerson].
//
// # State shared by replicas
//
// Authorization requests, codes, access and refresh tokens, single sign-on
// sessions, sign-in records and client assertions seen live in the store
// behind the small [State] interface (bbolt on one node, PostgreSQL shared
// by replicas), so a flow begun on one replica finishes on any other, and
// single sign-out on one ends the session everywhere. Codes, tokens and
// cookies are kept only as SHA-256 hashes; the access token a client holds
// is the token ID and subject encrypted with a key derived from the
// deployment secret, which every replica shares. Expired entries are purged
// as requests come in ([Provider.Purge] does it on demand). Relying parties
// and the deployment secret are in the store too.
//
// # Codes exchanged twice
//
// An exchange claims its code atomically in the shared state once the
// client and the PKCE verifier are checked (an exchange refused for
// either leaves the code to the client that holds the verifier), stores
// the tokens, then marks the code redeemed. Of exchanges of one code racing
// each other (on two replicas, or a client's retry) exactly one claims it
// and gets the tokens; the others are refused with invalid_grant and
// revoke nothing, since nothing was issued from the code when they came.
// Once the code is redeemed (or a minute after its claim, should the
// exchange that claimed it never finish) the code coming back is a
// replay: refused, audited (oidc-code-replayed), and every token issued
// from it is revoked, as the OAuth 2.0 Security BCP asks (RFC 9700
// section 4.5.3.1). An exchange whose code was revoked or signed out
// while it stored its tokens deletes them and fails, so no token outlives
// its code's revocation.
//
// # Refresh tokens
//
// A client that asks for scope offline_access (and gets the citizen's
// consent for it) receives a refresh token. Each use rotates it: the old
// one is consumed atomically and a new one issued, within the family's
// absolute lifetime [Options.RefreshTTL], which rotation does not extend. A
// refresh token presented a second time revokes its whole family (OAuth 2.0
// Security BCP, RFC 9700), as does a replayed authorization code; both are
// audited. A citizen who could no longer sign in (identity revoked)
// cannot refresh either.
//
// The op library logs refused requests with the default slog logger; it
// offers no way to inject one.
//
// This package must not import api or cmd; it uses enrollment only
// through the small [Citizens] interface.
package oidc
