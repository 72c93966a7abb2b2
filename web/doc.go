// Package web serves the pages people use in a browser, in Arabic (right
// to left, the default) and English: the officer console at /centre/, the
// public verification page at /verify/ and the administration pages at
// /admin/, with their embedded assets under /assets/. The citizen app is
// package web/app.
//
// Which kind of person may open each page is decided in one table,
// pageAccess in auth.go. Forms carry a CSRF token (package
// web/internal/ui); every page is sent with a Content-Security-Policy that
// allows no inline script and nothing from another origin.
//
// Pages use the trust core only through the public Go APIs of enrollment
// (officers, identities) and signer/validate (verification reports), via
// the small interfaces in [Deps]. This package must not import api, cmd,
// internal/node or store implementations; only internal/node imports it.
package web
