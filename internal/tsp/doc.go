// Package tsp is Thiqa's RFC 3161 time-stamping engine: it parses
// TimeStampReq messages, issues RFC 5816 time-stamp tokens signed by a
// time-stamping unit (TSU) key, and answers the HTTP transport of RFC 3161
// section 3.4.
//
// # Encoding
//
// Requests are parsed and responses are written directly with
// golang.org/x/crypto/cryptobyte rather than through encoding/asn1 or
// github.com/digitorus/timestamp: parsing is strict DER and bounded, and the
// parts of a token that never change for an [Authority] (certificates,
// signer identifier, the ESS signing-certificate-v2 attribute, the policy and
// accuracy) are encoded once in [New], so that [Authority.Respond] costs one
// digest, one signature and a few small appends. The tests check the tokens
// with OpenSSL (openssl ts -verify) and github.com/digitorus/timestamp.
//
// # Tokens
//
// A granted response carries a CMS SignedData (version 3) whose
// encapsulated content is the DER TSTInfo and whose single SignerInfo has
// the signed attributes content-type (id-ct-TSTInfo), message-digest and
// signing-certificate-v2 (ESSCertIDv2 with the SHA-256 hash of the TSU
// certificate and its issuer and serial number). ECDSA P-256, P-384 and P-521
// keys sign with ecdsa-with-SHA256/384/512, RSA keys with
// sha256WithRSAEncryption. The TSU certificate and the chain are included
// only when the request sets certReq. TSTInfo carries the accuracy, the
// nonce when asked, the TSU's subject as tsa name and, with
// Options.Qualified, the qcStatements extension of ETSI EN 319 422 that
// marks a qualified electronic time-stamp.
//
// Bad requests never yield a Go error: they yield a rejection TimeStampResp
// carrying a [FailureInfo] and a status string. Errors are returned only for
// internal failures, such as a signing key that fails.
//
// # Imports
//
// This package must not import other Thiqa packages, HTTP routers, loggers or
// storage: it is a leaf used by ca, signer and cmd/thiqa.
package tsp
