package signer

import "errors"

// Errors of package signer. They are wrapped with context; test with
// errors.Is.
var (
	// ErrAlgorithm means a key, curve or hash that PAdES baseline signing
	// here does not support.
	ErrAlgorithm = errors.New("signer: unsupported algorithm")
	// ErrDocMDP means the document's certification signature (DocMDP)
	// forbids the change asked for.
	ErrDocMDP = errors.New("signer: forbidden by the certification signature (DocMDP)")
	// ErrCertifyNotFirst means a certification signature was asked for on a
	// document that is already signed.
	ErrCertifyNotFirst = errors.New("signer: a certification signature must be the first signature")
	// ErrDamaged means the input's xref had to be rebuilt and some of its
	// objects are unreadable (for example a truncated file).
	ErrDamaged = errors.New("signer: damaged input")
	// ErrDocument means the document cannot be signed as its viewers
	// would show it: its page tree cannot be read completely (a loop, no
	// /Pages, an unreadable node or page, no page at all), so a citizen
	// could approve one rendering while a viewer shows another or nothing.
	// The error names the cause after "page tree: ".
	ErrDocument = errors.New("signer: document refused")
	// ErrSignature means the signature value given to Complete does not
	// verify with the signer certificate's public key.
	ErrSignature = errors.New("signer: signature value does not verify")
	// ErrContentsTooSmall means the CMS (with its time-stamp) outgrew the
	// reserved /Contents space; raise Options.TimestampReserve.
	ErrContentsTooSmall = errors.New("signer: signature larger than the space reserved for it")
	// ErrTimestamp means the time-stamping authority failed or returned a
	// token that does not match the request.
	ErrTimestamp = errors.New("signer: time-stamp failed")
	// ErrRevocation means validation data (OCSP or CRL) could not be
	// obtained for a certificate.
	ErrRevocation = errors.New("signer: revocation data unavailable")
	// ErrRevoked means a certificate in a chain is revoked.
	ErrRevoked = errors.New("signer: certificate revoked")
	// ErrOptions means the options are incomplete or inconsistent.
	ErrOptions = errors.New("signer: bad options")
	// ErrState means a Prepared value was used out of order (for example
	// completed twice).
	ErrState = errors.New("signer: prepared signature used out of order")
)
