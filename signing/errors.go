package signing

import "errors"

// Errors of the signing service. Messages wrap them with what was refused;
// the API maps them to problem documents with errors.Is.
var (
	// ErrInvalid: the input is malformed (fields missing or too long, a
	// document that is not a PDF, an unknown level or scope).
	ErrInvalid = errors.New("invalid input")
	// ErrTooMany: more documents, or larger ones, than the limits allow.
	ErrTooMany = errors.New("over the limits of a sign request")
	// ErrNotFound: no such request, document or agency (also what another
	// principal's request looks like).
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the principal may not do this (a scope is missing).
	ErrForbidden = errors.New("not allowed for this principal")
	// ErrUnauthenticated: the agency's API key or certificate is unknown.
	ErrUnauthenticated = errors.New("agency credentials refused")
	// ErrState: the request is no longer pending (signed, rejected,
	// failed), or an approval of another ceremony was sent.
	ErrState = errors.New("operation not allowed in the request's state")
	// ErrExpired: the request or its approval has expired.
	ErrExpired = errors.New("sign request or approval expired")
	// ErrDocument: the signer refused a document (broken, encrypted,
	// forbidden by a certification signature); the request failed.
	ErrDocument = errors.New("document cannot be signed")
	// ErrConflict: an idempotency key was reused with another request
	// body.
	ErrConflict = errors.New("idempotency key reused with a different request")
	// ErrExists: an agency of that name is registered already.
	ErrExists = errors.New("already exists")
	// ErrSigning: signing failed after approval (time-stamp, validation
	// data); the request failed and nothing was stored.
	ErrSigning = errors.New("signing failed")
)
