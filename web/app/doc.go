// Package app serves the citizen app at /app/: an installable progressive
// web app that stands in for the national mobile app. Citizens activate
// their digital identity with their national number and the one-time code
// an officer handed them and create a passkey on the phone; then they sign
// in with that passkey, review the documents an agency asks them to sign,
// compare the short code with the agency's screen, approve with the passkey
// or reject, download what they signed, see their devices and disable a
// lost phone.
//
// The app is static: an HTML shell, one script, one style sheet, a web app
// manifest, icons and a service worker that caches only that shell, all
// embedded in the binary (no CDN). Everything it shows comes from the JSON
// API under /api/v1/ (package api), which decides who may do what; the
// session is the API's HttpOnly, Secure, SameSite=Strict cookie, which the
// script never reads. Every response carries a Content-Security-Policy that
// allows no inline script and nothing from another origin.
//
// Arabic (right to left) is the default language and English the other;
// digits may be typed in Arabic-Indic or Western form.
//
// This package imports no other Thiqa package; only internal/node imports
// it, to mount [Handler] at /app/.
package app
