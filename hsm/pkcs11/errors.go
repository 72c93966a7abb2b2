package pkcs11

import (
	"errors"

	p11 "github.com/miekg/pkcs11"
)

// Errors of the PKCS#11 backend. Key-level errors are those of package hsm
// (hsm.ErrKeyNotFound, hsm.ErrKeyExists, hsm.ErrWrongOwner, …).
var (
	// ErrBadURI means a PKCS#11 URI is malformed or incomplete.
	ErrBadURI = errors.New("pkcs11: bad URI")
	// ErrModule means the PKCS#11 library cannot be loaded or initialised.
	ErrModule = errors.New("pkcs11: cannot use the PKCS#11 module")
	// ErrTokenNotFound means no token with the configured label (and
	// serial) is present.
	ErrTokenNotFound = errors.New("pkcs11: token not found")
	// ErrWrongPIN means the token refused the PIN.
	ErrWrongPIN = errors.New("pkcs11: wrong PIN")
	// ErrPINLocked means the token locked the user PIN after too many
	// wrong attempts.
	ErrPINLocked = errors.New("pkcs11: PIN locked")
	// ErrNoKEK means the token holds no key-encryption key for wrapped
	// keys (create one with Options.CreateKEK or RotateKEK).
	ErrNoKEK = errors.New("pkcs11: no key-encryption key on the token")
	// ErrMechanism means the token lacks a mechanism this backend needs.
	ErrMechanism = errors.New("pkcs11: mechanism not supported by the token")
	// ErrClosed means the custody was closed.
	ErrClosed = errors.New("pkcs11: custody closed")
)

// ckr returns the PKCS#11 return value in err, if any.
func ckr(err error) (uint, bool) {
	var e p11.Error
	if errors.As(err, &e) {
		return uint(e), true
	}
	return 0, false
}

// connectionLost reports whether err means the session, the login or the
// token went away, so that reconnecting may help.
func connectionLost(err error) bool {
	rv, ok := ckr(err)
	if !ok {
		return false
	}
	switch rv {
	case p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_CLOSED,
		p11.CKR_TOKEN_NOT_PRESENT, p11.CKR_TOKEN_NOT_RECOGNIZED,
		p11.CKR_DEVICE_REMOVED, p11.CKR_DEVICE_ERROR,
		p11.CKR_USER_NOT_LOGGED_IN, p11.CKR_CRYPTOKI_NOT_INITIALIZED,
		p11.CKR_SLOT_ID_INVALID, p11.CKR_OBJECT_HANDLE_INVALID,
		p11.CKR_KEY_HANDLE_INVALID, p11.CKR_GENERAL_ERROR:
		return true
	}
	return false
}
