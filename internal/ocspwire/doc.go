// Package ocspwire reads OCSP requests off the wire for Thiqa's OCSP
// responder: the HTTP transport of RFC 6960 appendix A (GET with a base64
// path, POST of application/ocsp-request) and a strict, bounded parser of
// the DER OCSPRequest that, unlike golang.org/x/crypto/ocsp, keeps the
// nonce extension (RFC 6960 section 4.4.1, RFC 8954) so that the response
// can echo it with [NonceExtension].
//
// Responses are built with golang.org/x/crypto/ocsp by the ca package; this
// package only parses. It is written with golang.org/x/crypto/cryptobyte.
//
// This package must not import other Thiqa packages, loggers or storage.
package ocspwire
