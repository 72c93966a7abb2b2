package ca

import "errors"

// Errors returned by the authority. Callers map them to HTTP statuses and
// exit codes with errors.Is.
var (
	// ErrProfile: the request does not fit the certificate profile (key,
	// name fields, national number). The message says what.
	ErrProfile = errors.New("request does not fit the certificate profile")
	// ErrLint: zlint found an error or warning in the certificate; it was
	// not issued.
	ErrLint = errors.New("certificate refused by lint")
	// ErrBadCSR: the certificate signing request is malformed or its
	// signature does not verify.
	ErrBadCSR = errors.New("malformed certificate signing request")
	// ErrNotFound: no certificate or authority with that name or serial.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyRevoked: the certificate is revoked; revocation is final.
	ErrAlreadyRevoked = errors.New("certificate already revoked")
	// ErrNotOnHold: release from hold of a certificate that is not on hold.
	ErrNotOnHold = errors.New("certificate is not on hold")
	// ErrBadReason: a revocation reason that RFC 5280 does not allow here.
	ErrBadReason = errors.New("revocation reason not allowed")
	// ErrInitialized: the key ceremony was already run.
	ErrInitialized = errors.New("key ceremony already done")
	// ErrNotInitialized: no key ceremony has been run yet.
	ErrNotInitialized = errors.New("key ceremony not done")
	// ErrConfig: the configuration is invalid.
	ErrConfig = errors.New("invalid configuration")
)
