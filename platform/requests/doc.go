// Package requests runs citizens' requests for government services, a
// thin module on Thiqa's trust core that uses it only through its public
// Go API.
//
// A signed-in citizen opens a request for a catalogue service ([Service.Open]):
// Thiqa writes the application form as a PDF with the citizen's enrolled
// names ([Form]), keeps its hash, and asks the citizen to sign it through
// the signing service (a sign request the citizen approves with a passkey,
// PAdES B-LT with a visible bilingual stamp); when the service has a fee,
// an invoice is raised through the payments module. The citizen then
// submits the request ([Service.Submit]): Thiqa refuses it until the
// invoice is paid, and until the signed form validates (TOTAL-PASSED with
// signer/validate), carries the citizen's own signature, and begins with
// exactly the bytes of the form Thiqa generated. The agency lists its queue
// ([Service.Queue]), and accepts ([Service.Accept]) with a result document
// that is sealed with the agency's e-seal at PAdES B-LT before the citizen
// may download it, or rejects ([Service.Reject]) with a reason.
//
// # State machine
//
//	opened ──submit──▶ submitted ──accept──▶ accepted
//	   │                   └──────reject──▶ rejected
//	   └──cancel──▶ cancelled
//
// Every transition is a compare-and-set on the stored record's version
// (so two agency officers accepting at once give one acceptance), is
// recorded in the request (who, when, from, to, reason), is appended to
// the audit log before the call returns, and, from submission on, is sent
// to the agency's webhook (HMAC-SHA256 signed as the signing service's
// webhooks are, see [signing.WebhookSignature]). A citizen sees only their
// own requests and an agency only those of its services that were
// submitted to it: anyone else's look missing.
//
// # Imports
//
// requests uses signing, enrollment, signer/validate, audit and store
// through small interfaces declared here ([Catalogue], [Payments] and
// [Sealer] are satisfied by adapters over platform/catalogue,
// platform/payments and platform/seal). It must not import api, web, cmd
// or internal/node, and it does not log.
package requests
