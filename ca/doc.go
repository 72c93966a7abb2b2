// Package ca is Thiqa's certificate authority: the key ceremony that creates
// the root, citizen and organisation CAs, the time-stamping unit and the
// OCSP responders; the certificate profiles of ETSI EN 319 412 for citizens'
// signing and authentication certificates and agencies' e-seals; issuance
// from a public key or a CSR; revocation and suspension; CRLs; an RFC 6960
// OCSP responder; and an RFC 3161 time-stamping authority.
//
// # Issuance
//
// [Authority.Issue] builds a certificate from a [Request] and a [Profile]. The
// request is first checked against the profile (key type and size, name
// fields, national number), then a copy of the certificate, under a
// placeholder signature of the size the CA's curve gives, is linted with
// zlint (TestLintCopyMatchesIssued shows every lint judges the copy as it
// judges the certificate signed for real); only a template that passed both
// checks can reach the real CA key (the unexported approved type), the
// certificate signed for real has exactly the linted TBS bytes, and the
// CA's signature is verified before use, against a faulty key store. The
// certificate is stored (durably) before it is returned.
//
// # Why not the step-ca authority
//
// Thiqa builds certificates with go.step.sm/crypto/x509util (smallstep's
// certificate model) and crypto/x509, but not with the
// github.com/smallstep/certificates authority. That authority is built around
// automated provisioners (ACME, JWK, OIDC, cloud identity documents) and a
// nosql database of its own; Thiqa's registration authority is a person at a
// service centre, its profiles need ETSI QC statements and semantics
// identifiers the authority has no model for, its revocation path panics on
// an MTLS revoke without a certificate, and its CRL is rebuilt by scanning
// every certificate. Thiqa keeps a per-issuer index of revoked certificates
// instead, so a CRL costs the size of the revocations, not of the population.
//
// # Imports
//
// This package imports hsm, store and internal packages only; it knows
// nothing of enrollment, signing sessions or HTTP APIs above it.
package ca
