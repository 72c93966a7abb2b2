// Package ui is what every page of package web shares: the base layout
// template, the Arabic and English message catalogues, the choice of
// language (cookie and ?lang=, Arabic by default, dir="rtl"), digits and
// dates in the user's language, the security headers (Content-Security-
// Policy and friends), CSRF protection of forms and the embedded style
// sheet. No asset comes from a CDN.
//
// It must not import any Thiqa package: it knows nothing of officers,
// signatures or the store.
package ui
