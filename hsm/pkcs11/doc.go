// Package pkcs11 is Thiqa's key custody on a hardware security module,
// through PKCS #11. It implements [hsm.Custody] for the few long-lived keys
// that live on the token (CA, OCSP, time-stamping, e-seal keys) and
// [hsm.WrappedCustody] for the millions of citizens' signing keys, which
// live outside the token as blobs wrapped under a token-resident
// key-encryption key (KEK).
//
// # Selecting a token
//
// A token is named by a URI in the style of RFC 7512, parsed by [ParseURI]:
//
//	pkcs11:token=thiqa?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/thiqa/hsm-pin
//
// # Keys on the token
//
// [Custody.GenerateKey] makes a key pair on the token: the private key is
// sensitive and not extractable; both halves are labelled with the
// [hsm.KeyID], which is all the rest of Thiqa records.
//
// # Wrapped citizen keys
//
// [Custody.NewWrappedKey] generates the key pair as session objects,
// wraps the private key under the current KEK with CKM_AES_KEY_WRAP_PAD
// (RFC 5649), destroys both objects and returns the blob. AES key wrap has
// no associated data, so the blob is bound to its owner by an HMAC-SHA-256
// tag over the owner and the blob, computed and later verified on the
// token with a binding key generated alongside the KEK. (Deriving a
// per-owner KEK with CKM_AES_ECB_ENCRYPT_DATA would bind without a second
// key, but needs a parameter structure with a pointer that the Go binding
// cannot pass.) [Custody.SignWithWrapped] verifies the tag, unwraps into a
// session object that is neither persistent nor extractable, signs exactly
// the digests given, and destroys it. The clear private key never leaves
// the token.
//
// KEKs come in generations ([Custody.RotateKEK]); [Custody.RotateAll]
// re-wraps stored blobs under the newest one, resumably.
//
// # Sessions
//
// Each [Custody] logs in once and keeps a pool of sessions bounded by the
// token's own limit and [DefaultMaxSessions] (or max-sessions in the URI).
// When an operation fails because the token, the session or the login went
// away, the custody drops its sessions, initialises the module again and
// retries the operation once; later operations reconnect as soon as the
// token is back. Wrong PIN, missing token and missing key are reported as
// [ErrWrongPIN], [ErrTokenNotFound] and [hsm.ErrKeyNotFound].
//
// # Library
//
// The package uses github.com/miekg/pkcs11 directly (cgo). crypto11 and
// go.step.sm/crypto/kms/pkcs11, built on it, hide object handles, and
// offer neither C_WrapKey/C_UnwrapKey nor session objects, which the
// wrapped citizen keys need; here each call maps to one PKCS #11 function.
//
// This package may import only package hsm of Thiqa.
package pkcs11
