package enrollment

import "errors"

// Errors returned by the service. The API maps them to HTTP statuses with
// errors.Is; messages wrap them with what was refused.
var (
	// ErrInvalid: the input is malformed (national number, names, dates,
	// fields missing or too long).
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound: no such centre, officer, identity, passkey or approval.
	ErrNotFound = errors.New("not found")
	// ErrExists: a centre or officer with that name exists already.
	ErrExists = errors.New("already exists")
	// ErrBadCredentials: officer sign-in failed (password or TOTP code).
	ErrBadCredentials = errors.New("wrong username, password or one-time code")
	// ErrLocked: too many failures; an officer account is locked for a
	// while, or activation is locked until an officer issues a new code.
	ErrLocked = errors.New("locked after repeated failures")
	// ErrBadCode: the activation code is wrong, expired or used.
	ErrBadCode = errors.New("activation code is wrong, expired or already used")
	// ErrCeremony: no WebAuthn ceremony with that ID (expired, finished
	// or never begun), or one of another kind.
	ErrCeremony = errors.New("no such WebAuthn ceremony (expired or already finished)")
	// ErrWebAuthn: the WebAuthn response does not verify (challenge,
	// origin, RP ID, signature, user verification, sign counter, flags).
	ErrWebAuthn = errors.New("passkey response refused")
	// ErrUnauthenticated: no session, or an expired or revoked one.
	ErrUnauthenticated = errors.New("not signed in or session expired")
	// ErrForbidden: the principal may not act on this record.
	ErrForbidden = errors.New("not allowed for this principal")
	// ErrState: the identity is not in a state that allows the operation.
	ErrState = errors.New("operation not allowed in the identity's state")
	// ErrProofing: the in-person checks did not pass; the record is kept
	// as evidence and no code is issued.
	ErrProofing = errors.New("identity proofing failed")
)
