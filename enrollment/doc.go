// Package enrollment is the registration authority of Thiqa: service
// centres, officer accounts (password and TOTP), the in-person enrollment
// records that ETSI EN 319 411-1 asks a registration authority to keep,
// one-time activation codes, activation of a citizen's identity with a
// passkey (WebAuthn), passkey sign-in, sessions, and the identity's
// lifecycle (devices, suspension, revocation with four eyes).
//
// # Flow
//
// An administrator creates centres and officers ([Service.CreateCentre],
// [Service.CreateOfficer]). An officer signs in ([Service.OfficerSignIn])
// and records an in-person check ([Service.Enrol]), which yields a one-time
// activation code. The citizen's app redeems the code and registers a
// passkey ([Service.BeginActivation], [Service.FinishActivation]); the
// service then generates the citizen's signing key in key custody and has
// the CA issue the signing and authentication certificates. From then on
// the citizen signs in with the passkey ([Service.BeginSignIn],
// [Service.FinishSignIn]).
//
// # Rules
//
// Every state change is written together with an [store.Event] saying who,
// when and why. Every refusal changes nothing but the counters that limit
// guessing (activation code attempts, officer sign-in failures). Codes and
// tokens are stored only as hashes and compared in constant time. The clock
// and the randomness are injected through [Options].
//
// This package must not import api, cmd or internal/node; the CA is reached
// only through the small [CA] interface, and ca must not import this
// package.
package enrollment
