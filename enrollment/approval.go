package enrollment

// Signature activation (sole control).
//
// A citizen's signing key is in key custody and this file holds the only
// code path that reaches it for signing: [Service.SignApproved], which takes
// an [*Approval]. An Approval has only unexported fields and is made only by
// [Service.FinishApproval], after a passkey assertion over a challenge that
// commits to the request, the credential, the signature algorithm, the
// ordered data-to-be-signed digests and an expiry has verified. SignApproved
// signs exactly the approval's digests, once. Code outside this package
// cannot build an Approval (the zero value is refused), so "sign this hash
// for that citizen" cannot be written without the citizen's approval of
// that hash.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/store"
)

// ceremonyApprove is the kind of an approval ceremony.
const ceremonyApprove = "approve"

// MaxApprovalTTL bounds how long an approval challenge is valid.
const MaxApprovalTTL = 5 * time.Minute

// MaxApprovalDigests bounds the digests one approval covers.
const MaxApprovalDigests = hsm.MaxDigestsPerSigning

// ErrApproval: the approval is refused, used, expired or does not cover
// what is asked.
var ErrApproval = errors.New("signature approval refused")

// AlgECDSASHA256 is the signature algorithm (OID of ecdsa-with-SHA256) of
// citizens' P-256 keys, as named in challenges and in the CSC API.
const AlgECDSASHA256 = "1.2.840.10045.4.3.2"

// ApprovalScope is what an approval authorises: these digests, in this
// order, for this request, with this algorithm, until Expires.
type ApprovalScope struct {
	RequestID string
	Algorithm string
	Digests   [][]byte
	Expires   time.Time
}

func (sc ApprovalScope) check(now time.Time) error {
	switch {
	case sc.RequestID == "" || len(sc.RequestID) > 128:
		return fmt.Errorf("%w: request id", ErrInvalid)
	case sc.Algorithm != AlgECDSASHA256:
		return fmt.Errorf("%w: signature algorithm %q", ErrInvalid, sc.Algorithm)
	case len(sc.Digests) == 0 || len(sc.Digests) > MaxApprovalDigests:
		return fmt.Errorf("%w: %d digests, want 1 to %d", ErrInvalid, len(sc.Digests), MaxApprovalDigests)
	case !sc.Expires.After(now) || sc.Expires.Sub(now) > MaxApprovalTTL:
		return fmt.Errorf("%w: expiry must be within %v", ErrInvalid, MaxApprovalTTL)
	}
	for i, d := range sc.Digests {
		if len(d) != sha256.Size {
			return fmt.Errorf("%w: digest %d is %d bytes", ErrInvalid, i, len(d))
		}
	}
	return nil
}

// ApprovalChallenge computes the WebAuthn challenge of an approval: SHA-256
// over a domain label, the request ID, the credential ID, the algorithm,
// the ordered digests, the expiry (Unix seconds) and the ceremony's random
// nonce (so that no two ceremonies share a challenge), each
// length-prefixed. The app computes the same to show the short code.
func ApprovalChallenge(sc ApprovalScope, credentialID, nonce []byte) []byte {
	h := sha256.New()
	put := func(b []byte) {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
		h.Write(b)
	}
	put([]byte("thiqa-signature-activation-v1"))
	put([]byte(sc.RequestID))
	put(credentialID)
	put([]byte(sc.Algorithm))
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(sc.Digests))))
	for _, d := range sc.Digests {
		put(d)
	}
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(sc.Expires.Unix())))
	put(nonce)
	return h.Sum(nil)
}

// ShortCode is the 6-digit code derived from a challenge that the app and
// the agency's screen both show.
func ShortCode(challenge []byte) string {
	return fmt.Sprintf("%06d", binary.BigEndian.Uint32(challenge[:4])%1000000)
}

// ApprovalBegun is an approval ceremony begun.
type ApprovalBegun struct {
	CeremonyID string          `json:"ceremony_id"`
	Options    json.RawMessage `json:"options"`
	Code       string          `json:"code"`
	Expires    time.Time       `json:"expires"`
	Nonce      []byte          `json:"nonce"`
}

// approvalNonceSize is the size of an approval ceremony's nonce, kept
// before the challenge in the ceremony record.
const approvalNonceSize = 16

// BeginApproval begins the passkey assertion that approves sc, with the
// passkey of the citizen's session.
func (s *Service) BeginApproval(ctx context.Context, by Principal, sc ApprovalScope) (ApprovalBegun, error) {
	fail := func(err error) (ApprovalBegun, error) { return ApprovalBegun{}, fmt.Errorf("begin approval: %w", err) }
	if by.Kind != KindCitizen || len(by.Credential) == 0 {
		return fail(ErrForbidden)
	}
	sc.Expires = sc.Expires.Truncate(time.Second)
	if err := sc.check(s.now()); err != nil {
		return fail(err)
	}
	nonce, err := s.random(approvalNonceSize)
	if err != nil {
		return fail(err)
	}
	challenge := ApprovalChallenge(sc, by.Credential, nonce)
	var out ApprovalBegun
	err = s.update(ctx, func(tx store.EnrollmentTx) error {
		id, err := tx.IdentityByID(by.IdentityID)
		if err != nil || id.ID != by.IdentityID {
			return ErrUnauthenticated
		}
		if id.State != store.IdentityActive {
			return fmt.Errorf("%w: identity is %s", ErrState, id.State)
		}
		i := passkeyIndex(id, by.Credential)
		if i < 0 || id.Credentials[i].Disabled {
			return fmt.Errorf("%w: passkey disabled", ErrWebAuthn)
		}
		allow := []protocol.CredentialDescriptor{{Type: protocol.PublicKeyCredentialType, CredentialID: by.Credential}}
		opts, sess, err := s.wa.BeginLogin(waUser{id}, webauthn.WithChallenge(challenge),
			webauthn.WithAllowedCredentials(allow), webauthn.WithUserVerification(protocol.VerificationRequired))
		if err != nil {
			return fmt.Errorf("webauthn: %w", err)
		}
		cid, err := s.randomID(18)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(sess)
		if err != nil {
			return err
		}
		optJSON, err := json.Marshal(opts)
		if err != nil {
			return err
		}
		out = ApprovalBegun{CeremonyID: cid, Options: optJSON, Code: ShortCode(challenge), Expires: sc.Expires, Nonce: nonce}
		return tx.PutCeremony(store.WebAuthnCeremony{ID: cid, Kind: ceremonyApprove, NationalID: id.NationalID,
			IdentityID: id.ID, CodeHash: append(append([]byte(nil), nonce...), challenge...), Session: raw, Expires: sc.Expires})
	})
	if err != nil {
		return fail(err)
	}
	return out, nil
}

// Approval is a verified signature activation: the citizen's passkey
// approved exactly its digests. Only [Service.FinishApproval] makes one;
// [Service.SignApproved] consumes it.
type Approval struct {
	identityID, nationalID string
	keyID                  hsm.KeyID
	wrapped                []byte // the signing key's blob, when wrapped
	credential             []byte
	scope                  ApprovalScope
	signCount              uint32
	challenge              []byte
	at                     time.Time
	used                   atomic.Bool
}

// ApprovalEvidence is what an approval proves, for evidence records.
type ApprovalEvidence struct {
	RequestID   string    `json:"request_id"`
	NationalID  string    `json:"national_id"`
	Credential  string    `json:"credential"` // base64url
	Algorithm   string    `json:"algorithm"`
	Challenge   []byte    `json:"challenge"`
	SignCount   uint32    `json:"sign_count"`
	ApprovedAt  time.Time `json:"approved_at"`
	Assertion   []byte    `json:"assertion"` // the WebAuthn response as received
	DigestCount int       `json:"digest_count"`
}

// Evidence describes the approval.
func (a *Approval) Evidence(assertion []byte) ApprovalEvidence {
	return ApprovalEvidence{RequestID: a.scope.RequestID, NationalID: a.nationalID,
		Credential: base64.RawURLEncoding.EncodeToString(a.credential), Algorithm: a.scope.Algorithm,
		Challenge: bytes.Clone(a.challenge), SignCount: a.signCount, ApprovedAt: a.at,
		Assertion: append([]byte(nil), assertion...), DigestCount: len(a.scope.Digests)}
}

// FinishApproval verifies the passkey assertion of an approval ceremony
// against sc, which the caller computes again from the documents as they
// are now: if anything changed since BeginApproval (documents, order,
// request, expiry), the challenge differs and the assertion is refused.
// Checked as at sign-in: origin, RP ID, user verification, signature, sign
// counter, the credential of the citizen's session, and single use (the
// ceremony is deleted whatever the outcome of a verified parse).
func (s *Service) FinishApproval(ctx context.Context, by Principal, ceremonyID string, sc ApprovalScope, response []byte) (_ *Approval, err error) {
	fail := func(err error) (*Approval, error) { return nil, fmt.Errorf("finish approval: %w", err) }
	if by.Kind != KindCitizen {
		return fail(ErrForbidden)
	}
	c, sess, err := s.loadCeremony(ctx, ceremonyID, ceremonyApprove)
	if err != nil {
		return fail(err)
	}
	// A refused attempt uses the ceremony up too: no retries against one
	// challenge. (An accepted one deletes it in its own transaction.)
	defer func() {
		if err != nil {
			s.update(ctx, func(tx store.EnrollmentTx) error { return tx.DeleteCeremony(c.ID) })
		}
	}()
	if c.IdentityID != by.IdentityID || c.NationalID != by.NationalID {
		return fail(fmt.Errorf("%w: approval of another citizen", ErrForbidden))
	}
	sc.Expires = sc.Expires.Truncate(time.Second)
	if !s.now().Before(sc.Expires) {
		return fail(fmt.Errorf("%w: expired", ErrApproval))
	}
	if len(c.CodeHash) != approvalNonceSize+sha256.Size {
		return fail(ErrCeremony)
	}
	nonce, challenge := c.CodeHash[:approvalNonceSize], c.CodeHash[approvalNonceSize:]
	if !bytes.Equal(ApprovalChallenge(sc, by.Credential, nonce), challenge) {
		return fail(fmt.Errorf("%w: the documents or the request changed since the approval began", ErrApproval))
	}
	if len(response) > maxResponse {
		return fail(fmt.Errorf("%w: response over %d bytes", ErrWebAuthn, maxResponse))
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return fail(fmt.Errorf("%w: %s", ErrWebAuthn, describe(err)))
	}
	var id store.Identity
	if err := s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) {
		id, err = tx.IdentityByID(by.IdentityID)
		return err
	}); err != nil || id.ID != by.IdentityID {
		return fail(ErrUnauthenticated)
	}
	cred, err := s.wa.ValidateLogin(waUser{id}, sess, parsed)
	if err != nil {
		return fail(fmt.Errorf("%w: %s", ErrWebAuthn, describe(err)))
	}
	switch {
	case !bytes.Equal(cred.ID, by.Credential):
		return fail(fmt.Errorf("%w: not the passkey of this session", ErrWebAuthn))
	case !parsed.Response.AuthenticatorData.Flags.HasUserVerified():
		return fail(fmt.Errorf("%w: user verification is required", ErrWebAuthn))
	case cred.Authenticator.CloneWarning:
		return fail(fmt.Errorf("%w: sign counter did not increase (cloned authenticator?)", ErrWebAuthn))
	}
	now := s.now()
	a := &Approval{identityID: id.ID, nationalID: id.NationalID, credential: cred.ID, scope: sc,
		signCount: cred.Authenticator.SignCount, at: now, challenge: bytes.Clone(challenge)}
	err = s.update(ctx, func(tx store.EnrollmentTx) error {
		if err := tx.DeleteCeremony(c.ID); err != nil {
			return ErrCeremony
		}
		cur, err := tx.IdentityByID(id.ID)
		if err != nil || cur.ID != id.ID {
			return ErrState
		}
		if cur.State != store.IdentityActive {
			return fmt.Errorf("%w: identity is %s", ErrState, cur.State)
		}
		i := passkeyIndex(cur, cred.ID)
		if i < 0 || cur.Credentials[i].Disabled {
			return fmt.Errorf("%w: passkey disabled", ErrWebAuthn)
		}
		pk := &cur.Credentials[i]
		n := cred.Authenticator.SignCount
		if (n != 0 || pk.SignCount != 0) && n <= pk.SignCount {
			return fmt.Errorf("%w: sign counter did not increase", ErrWebAuthn)
		}
		pk.SignCount, pk.LastUsed = n, now
		if cur, err = tx.PutIdentity(cur); err != nil {
			return err
		}
		a.keyID, a.wrapped = hsm.KeyID(cur.KeyID), cur.SigningKey
		return tx.AppendEvent(store.Event{At: now, Actor: by.actor(), Action: "approve-signature", Subject: identitySubject(cur.NationalID),
			Detail: fmt.Sprintf("request %s, %d digests, passkey %s", sc.RequestID, len(sc.Digests), base64.RawURLEncoding.EncodeToString(cred.ID))})
	})
	if err != nil {
		return fail(err)
	}
	if a.keyID == "" && len(a.wrapped) == 0 {
		return fail(fmt.Errorf("%w: identity has no signing key", ErrState))
	}
	return a, nil
}

// SignApproved signs the approval's digests, in order, with the citizen's
// key in custody, and uses the approval up. It is the only function that
// reaches a citizen's signing key.
func (s *Service) SignApproved(ctx context.Context, a *Approval) ([][]byte, error) {
	if a == nil || (a.keyID == "" && len(a.wrapped) == 0) || len(a.scope.Digests) == 0 {
		return nil, fmt.Errorf("sign approved: %w: not a verified approval", ErrApproval)
	}
	if !a.used.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("sign approved: %w: approval already used", ErrApproval)
	}
	if !s.now().Before(a.scope.Expires) {
		return nil, fmt.Errorf("sign approved: %w: expired", ErrApproval)
	}
	if len(a.wrapped) > 0 {
		if s.opts.Wrapped == nil {
			return nil, fmt.Errorf("sign approved: the citizen's key is wrapped but no wrapped custody is configured")
		}
		sigs, err := s.opts.Wrapped.SignWithWrapped(ctx, wrappedOwner(a.identityID), a.wrapped, a.scope.Digests, crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("sign approved: %w", err)
		}
		return sigs, nil
	}
	key, err := s.keys.Key(ctx, a.keyID)
	if err != nil {
		return nil, fmt.Errorf("sign approved: %w", err)
	}
	sigs := make([][]byte, len(a.scope.Digests))
	for i, d := range a.scope.Digests {
		if sigs[i], err = key.Sign(s.opts.Rand, d, crypto.SHA256); err != nil {
			return nil, fmt.Errorf("sign approved: digest %d: %w", i, err)
		}
	}
	return sigs, nil
}

// Digests returns a copy of the digests the approval covers.
func (a *Approval) Digests() [][]byte {
	out := make([][]byte, len(a.scope.Digests))
	for i, d := range a.scope.Digests {
		out[i] = append([]byte(nil), d...)
	}
	return out
}
