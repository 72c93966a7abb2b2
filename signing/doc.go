// Package signing runs Thiqa's signing flows: agencies registered with API
// keys, sign requests of 1..N PDFs for a citizen, the citizen's review,
// approval by passkey (signature activation), signing with the citizen's
// key in custody at PAdES B-LT by default with Thiqa's own time-stamping
// unit and OCSP responder, the signed PDFs, evidence records and webhooks.
//
// # Sole control
//
// This package never holds a citizen's key and cannot reach one. The only
// path to a citizen's key is [enrollment.Service.SignApproved], which
// takes an *enrollment.Approval; an Approval has only unexported fields
// and is made only by [enrollment.Service.FinishApproval] after a passkey
// assertion verified over a challenge that commits to the request ID, the
// credential ID, the signature algorithm, the ordered data-to-be-signed
// digests and an expiry of at most five minutes. SignApproved signs
// exactly the approval's digests, once. So a signature over a digest that
// no verified approval covers cannot be written in this package (nor in
// api): the [Approver] interface offers nothing else.
//
// Documents are prepared twice: when the approval begins, to compute the
// digests the challenge commits to, and when it finishes, from the stored
// documents, with the same signing time and the same deterministic
// randomness. If the documents, their order or their options changed in
// between, the digests differ, the challenge differs and the assertion is
// refused before any key is touched. Nothing of the preparation is kept in
// memory between the two steps, so any replica may finish what another
// began.
//
// # Remote signing (CSC)
//
// For the Cloud Signature Consortium API the same rule holds with hashes
// instead of documents: [Service.AuthorizeHashes] fixes the hashes, the
// citizen approves exactly them in the app ([Service.BeginHashApproval],
// [Service.ApproveHashes], which is when the key signs), and the client
// collects the signatures with a single-use, short-lived SAD
// ([Service.AuthorizeCheck], [Service.SignHash]).
//
// # Storage
//
// Originals are stored once, under blob keys that grow with each write
// (so that a large value never shares a B+tree page with later writes);
// of a signed document only its incremental update is stored, and the
// signed PDF is served as the original followed by it. Every transaction
// function may run twice (bbolt batches them) and writes only its outputs.
//
// # Imports
//
// signing uses enrollment (approvals, identities), signer (PAdES), ca
// (certificates, time-stamps, OCSP, CRLs) and store. It must not import
// api, cmd or internal/node, and it does not log.
package signing
