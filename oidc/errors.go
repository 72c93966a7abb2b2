package oidc

import "errors"

// Errors of the provider.
var (
	// ErrUnknownRequest: no authorization request with that ID (expired
	// or finished).
	ErrUnknownRequest = errors.New("unknown or expired authorization request")
	// ErrNotSignedIn: the browser has not signed in for this request.
	ErrNotSignedIn = errors.New("not signed in for this authorization request")
	// ErrInvalidClient: bad client registration input.
	ErrInvalidClient = errors.New("invalid client registration")
)
