// Package audit is Thiqa's tamper-evident audit log. Every security event
// (officer sign-in, enrollment, activation, device change, approval,
// signature, issuance, revocation, administrative change, key use) is
// appended with [Log.Append] as a [Record]: time, actor, action, subject and
// a salted digest of the event's details. Records are the leaves of a Merkle
// tree hashed as in RFC 6962 / RFC 9162, so that
//
//   - a signed [Checkpoint] (tree size, root hash, time) commits to the whole
//     history up to its size;
//   - an inclusion proof shows that a record is in the tree of a checkpoint,
//     so a citizen or an agency can keep a [Receipt] and check later that the
//     record is still there;
//   - a consistency proof shows that a later checkpoint extends an earlier
//     one, so history was not rewritten between them;
//   - [Verify] recomputes the tree from the stored records and names the
//     first record or checkpoint that does not match.
//
// # Personal data
//
// The leaves hold no personal data. An event's Details are kept in the store
// apart from the record, with a retention period (seven years by default, as
// ETSI EN 319 411-1 REG-6.4.5 asks of registration records), and the record
// holds only HMAC-SHA-256(salt, details) with a random salt stored beside the
// details: once they are purged, the digest reveals nothing. Actor and
// Subject must be pseudonymous identifiers (an identity's record id, a
// certificate serial, an officer's user name), never a national id or name.
//
// # Copies of stored events
//
// A record may name the stored event it copies ([Event.Source], e.g.
// "enrollment.event:<id>"): the store keeps at most one record per source,
// and [Log.Append] of an event whose source the log holds returns the
// existing record's receipt. Services that commit a change and then append
// its record use this to catch up after a crash between the two (see
// enrollment.Service.CatchUpAudit) without ever appending twice. Changes
// that keep no other copy of what their record says (payments, service
// requests, agency changes) keep the whole record pending in their own
// transaction ([store.PendingAudit]); [Log.CatchUp] appends those.
//
// # Checkpoints
//
// Checkpoints are C2SP tlog-checkpoint bodies (origin, size, base64 root
// hash, then a "time" extension line) wrapped in a C2SP signed note. The
// signature is ECDSA P-256 with SHA-256 (signed-note signature type 0x02,
// key ID from the SHA-256 of the key's SubjectPublicKeyInfo): Thiqa's key
// custody holds ECDSA and RSA keys but not Ed25519, and a national deployment
// keeps the checkpoint key in the HSM with the CA keys. The note framing is
// golang.org/x/mod/sumdb/note's, so any signed-note tooling can read it.
//
// # HTTP
//
// [Log.Handler] serves GET /audit/checkpoint (the latest signed checkpoint),
// GET /audit/key (the verifier key), GET /audit/proof/inclusion?index=N&size=M
// (or ?hash=LEAFHASH&size=M) and GET /audit/proof/consistency?from=A&to=B.
//
// This package must not import any Thiqa package other than store (for its
// record types); the packages that record events import it.
package audit
