// Package signer produces PAdES baseline signatures (ETSI EN 319 142-1) on
// PDF documents by incremental update: B-B, B-T, B-LT and B-LTA, serial
// signatures, certification (DocMDP) and LTA renewal.
//
// # Signing
//
// [Prepare] reads the PDF through an io.ReaderAt (package
// signer/internal/pdf), builds the incremental update (signature
// dictionary, field and widget, AcroForm created or extended with SigFlags
// 3, xref section of the file's own kind with /Prev) with a /Contents
// placeholder sized from the CMS it will hold, hashes the byte ranges by
// streaming, and returns the digest of the CAdES signed attributes. The key
// signs that digest wherever it lives (HSM, passkey-approved custody); the
// signature value goes to [Prepared.Complete], which builds the detached
// SignedData (content-type, message-digest, signing-certificate-v2, no
// signing-time; the time is in /M), time-stamps it for B-T, appends /DSS
// for B-LT and a document time-stamp for B-LTA. [Prepared.WriteTo] writes
// the input followed by the updates. [Sign] does all of it with a
// crypto.Signer; [SignFile] writes through a temporary file and a rename.
//
// # Documents already signed, certified or damaged
//
// Earlier signatures stay valid: the input's bytes are never changed and
// existing fields are kept. [Options.FieldName] may name an empty
// signature field to fill; when that field has a /Lock, the signature
// carries the matching FieldMDP transform in /Reference, so the lock
// binds. [Options.Certify] makes a certification
// signature (DocMDP P=1, 2 or 3); a signature that the document's
// certification forbids is refused with [ErrDocMDP] (validation data and
// document time-stamps are always allowed), and a certification on a
// signed document with [ErrCertifyNotFirst]. [Renew] adds fresh validation
// data and a new document time-stamp to a B-LTA document. A file whose
// xref is unusable is read by scanning and signed with a complete xref in
// the update; if any of its objects is unreadable (a truncated file) it is
// refused with [ErrDamaged]. Encrypted files are refused.
//
// What the citizen approves must be what every viewer shows: a document
// whose page tree cannot be read completely (a loop, no /Pages, an
// unreadable node or page, no page) is refused with [ErrDocument]. A file
// whose page tree reads only once its xref is rebuilt by scanning (an
// xref entry pointing at another object) is signed from the rebuilt xref,
// as viewers read it; a page written directly in /Kids is read, but
// cannot carry a visible signature.
//
// # Services
//
// Time-stamps come from a [Timestamper] ([HTTPTimestamper] for RFC 3161
// over HTTP; Thiqa's internal/tsp authority in process), revocation data
// from a [RevocationSource] ([HTTPRevocation] follows AIA OCSP URLs and CRL
// distribution points).
//
// # Imports
//
// signer knows nothing of HTTP servers, citizens, storage or key custody;
// it must not import api, enrollment, store, hsm or ca. It uses HTTP only as
// a client, in [HTTPTimestamper] and [HTTPRevocation].
package signer
