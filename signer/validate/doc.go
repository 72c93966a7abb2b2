// Package validate validates the signatures and document time-stamps of
// signed PDF documents and explains its verdicts in ETSI EN 319 102-1
// terms: TOTAL-PASSED, TOTAL-FAILED or INDETERMINATE with a
// sub-indication, and an explanation in English and Arabic.
//
// # What it checks
//
// [Validate] finds signatures through the AcroForm field tree of every
// revision (an orphan signature dictionary is not a signature), then for
// each one checks the /ByteRange (starts at 0, covers its whole revision
// except exactly the /Contents hex string, no gap, no overlap, inside the
// file), the CMS structure (one SignerInfo), the message digest over the
// byte range, the signature value, the signing-certificate(-v2)
// attribute, signature and document time-stamps (imprint, TSA chain,
// order), the chain built from the CMS, DSS and [Options.TrustAnchors],
// validity periods against the best-signature-time, and revocation from
// the OCSP responses and CRLs of the CMS, Adobe's revocation attribute,
// the DSS and VRI, or online when [Options.Online] is set. It reports the
// PAdES level the signature reaches (B-B, B-T, B-LT, B-LTA, or the legacy
// SubFilter). A signature over a revision whose page tree cannot be read
// completely (a loop, no /Pages, an unreadable node or page, no page; even
// after rebuilding the xref as viewers do) gets a finding saying so:
// viewers may show what was signed differently or not at all (Thiqa's
// signer refuses such documents).
//
// # Modification analysis
//
// Every revision after a signature is compared with the one before it:
// redefined objects are found from the cross-reference tables and
// classified by where the signed revision uses them (page content,
// annotations, form fields, catalog, outline), pages are compared by
// object and content, annotations and form fields by name and value.
// Allowed are DSS and VRI updates, document time-stamps, new signatures
// and filled signature fields, and what the DocMDP (certification) and
// FieldMDP permissions allow. A change a certification or lock forbids
// fails the signature (TOTAL-FAILED/HASH_FAILURE); any other change not
// allowed makes it INDETERMINATE/SIG_CONSTRAINTS_FAILURE, and each change
// is listed with its kind (see the Mod* constants).
//
// [Validator] holds fixed options and is what the HTTP API's verify
// endpoint is given; [ValidateFile] validates a file by name.
//
// # Reports
//
// [Report] marshals to the stable JSON schema [SchemaVersion]
// (documented in docs/VERIFY-REPORT.md); [Report.WriteText] writes plain
// text for terminals and [Report.WriteXML] an ETSI TS 119 102-2
// validation report.
//
// # Hostile input
//
// Work per file is bounded by [Limits] (file size, signatures,
// revisions, CMS size, chain length, objects examined, fields, revocation
// items, and a deadline). A broken file gives a report with FORMAT_FAILURE
// or INDETERMINATE and the reason; it never panics or hangs.
//
// Revocation data is accepted as fresh when issued no earlier than
// [Options.RevocationFreshness] (default 24 h) before the
// best-signature-time; older "good" statuses give TRY_LATER. Validity
// periods and revocation follow a chain (shell) model at the
// best-signature-time: a time-stamp is a proof of existence only when its
// TSA chains to a trust anchor and its TSA certificate was not revoked at
// or before the time it vouches for; a TSA revoked later voids its
// tokens (Timestamp.SubIndication REVOKED_NO_POE) unless the reason rules
// out a key compromise (RFC 3161 section 4) or a later trusted document
// time-stamp proves the token existed before the revocation. A document
// time-stamp whose token is so voided is itself TOTAL-FAILED/REVOKED or
// INDETERMINATE/REVOKED_NO_POE.
//
// Certificates with negative serial numbers (common in older documents)
// parse only when the binary sets GODEBUG x509negativeserial=1, as
// cmd/thiqa does; otherwise such a signer is reported as
// NO_SIGNING_CERTIFICATE_FOUND with the reason.
//
// # Imports
//
// validate uses signer/internal/pdf to read PDF files and its own
// internal/cms for CMS. It must not import api, cmd, store, hsm, ca or
// enrollment, and uses the network only when [Options.Online] is set.
package validate
