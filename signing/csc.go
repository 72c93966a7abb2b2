package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/store"
)

// Remote signing of hashes (the Cloud Signature Consortium API, SCAL2).
//
// A client fixes the hashes when it asks for authorisation
// ([Service.AuthorizeHashes]); the citizen approves exactly those hashes in
// the app with a passkey ([Service.BeginHashApproval],
// [Service.ApproveHashes]), which is when the key signs them, through the
// same [enrollment.Service.SignApproved] as documents. The client polls
// ([Service.AuthorizeCheck]) and receives a signature activation data
// (SAD) once; [Service.SignHash] releases the signatures of hashes bound
// to that SAD, once, before it expires.

// CSC algorithm identifiers.
const (
	OIDSHA256       = "2.16.840.1.101.3.4.2.1"
	OIDECDSASHA256  = enrollment.AlgECDSASHA256
	OIDECPublicKey  = "1.2.840.10045.2.1"
	OIDCurveP256    = "1.2.840.10045.3.1.7"
	hashAuthPrefix  = "csc-authorization/"
	maxHashAuthLife = 10 * time.Minute
	sadTTL          = 5 * time.Minute
)

// HashAuthorization states.
const (
	HashPending  = "pending"
	HashApproved = "approved"
	HashRejected = "rejected"
	HashExpired  = "expired"
)

// ErrSAD: the signature activation data is unknown, used, expired, or
// does not cover the hashes.
var ErrSAD = errors.New("signature activation data refused")

// HashAuthorization is a CSC client's request to sign fixed hashes with a
// citizen's credential.
type HashAuthorization struct {
	ID           string    `json:"id"`
	NationalID   string    `json:"national_id"`
	CredentialID string    `json:"credential_id"`
	Hashes       [][]byte  `json:"hashes"`
	Description  string    `json:"description,omitempty"`
	State        string    `json:"state"`
	Created      time.Time `json:"created"`
	Expires      time.Time `json:"expires"`
}

// hashAuthRecord is the stored form.
type hashAuthRecord struct {
	HashAuthorization
	Ceremony        string    `json:"ceremony,omitempty"`
	ApprovalExpires time.Time `json:"approval_expires,omitzero"`
	Signatures      [][]byte  `json:"signatures,omitempty"`
	SADHash         []byte    `json:"sad_hash,omitempty"`
	SADExpires      time.Time `json:"sad_expires,omitzero"`
	SADDelivered    bool      `json:"sad_delivered,omitempty"`
	SADUsed         bool      `json:"sad_used,omitempty"`
}

// Credential is the citizen's signing credential as the CSC API shows it.
type Credential struct {
	ID    string
	Chain [][]byte // DER, signer first
}

// CredentialOf returns the citizen's signing credential: its ID is the
// serial number of the signing certificate.
func (s *Service) CredentialOf(ctx context.Context, by Principal) (Credential, error) {
	if !by.isCitizen() {
		return Credential{}, fmt.Errorf("credential: %w", ErrForbidden)
	}
	me, err := s.ra.Me(ctx, *by.Citizen)
	if err != nil {
		return Credential{}, fmt.Errorf("credential: %w", err)
	}
	if me.SigningCert == "" {
		return Credential{}, fmt.Errorf("credential: %w: no signing certificate", ErrNotFound)
	}
	cert, chain, err := s.trust.SigningCertificate(ctx, me.SigningCert)
	if err != nil {
		return Credential{}, fmt.Errorf("credential: %w", err)
	}
	c := Credential{ID: me.SigningCert, Chain: [][]byte{cert.Raw}}
	for _, x := range chain {
		c.Chain = append(c.Chain, x.Raw)
	}
	return c, nil
}

func (s *Service) loadHashAuth(tx store.SigningTx, by Principal, id string) (hashAuthRecord, error) {
	var r hashAuthRecord
	if len(id) > 64 {
		return r, fmt.Errorf("%w: authorization", ErrNotFound)
	}
	b, err := tx.Blob(hashAuthPrefix + id)
	if err != nil {
		return r, notFound(err, "authorization "+id)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, err
	}
	if !by.isCitizen() || by.Citizen.NationalID != r.NationalID {
		return r, fmt.Errorf("%w: authorization %s", ErrNotFound, id)
	}
	if r.State == HashPending && !s.now().Before(r.Expires) {
		r.State = HashExpired
	}
	return r, nil
}

func putHashAuth(tx store.SigningTx, r hashAuthRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.PutBlob(hashAuthPrefix+r.ID, b)
}

// AuthorizeHashes records a CSC client's request to sign hashes (SHA-256,
// 1 to MaxDocuments of them) with the citizen's credential; the citizen
// approves it in the app.
func (s *Service) AuthorizeHashes(ctx context.Context, by Principal, credentialID string, hashes [][]byte, hashAlg, description string) (HashAuthorization, error) {
	fail := func(err error) (HashAuthorization, error) {
		return HashAuthorization{}, fmt.Errorf("authorize: %w", err)
	}
	cred, err := s.CredentialOf(ctx, by)
	if err != nil {
		return fail(err)
	}
	if credentialID != cred.ID {
		return fail(fmt.Errorf("%w: credential %q", ErrNotFound, credentialID))
	}
	if hashAlg != OIDSHA256 {
		return fail(fmt.Errorf("%w: hash algorithm %q (want SHA-256)", ErrInvalid, hashAlg))
	}
	if len(hashes) == 0 || len(hashes) > enrollment.MaxApprovalDigests {
		return fail(fmt.Errorf("%w: %d hashes, want 1 to %d", ErrTooMany, len(hashes), enrollment.MaxApprovalDigests))
	}
	for i, h := range hashes {
		if len(h) != sha256.Size {
			return fail(fmt.Errorf("%w: hash %d is %d bytes", ErrInvalid, i, len(h)))
		}
	}
	if description, err = checkText("description", description, 500, false); err != nil {
		return fail(err)
	}
	id, err := s.randomID(18)
	if err != nil {
		return fail(err)
	}
	now := s.now()
	r := hashAuthRecord{HashAuthorization: HashAuthorization{ID: id, NationalID: by.Citizen.NationalID, CredentialID: cred.ID,
		Hashes: hashes, Description: description, State: HashPending, Created: now, Expires: now.Add(maxHashAuthLife)}}
	err = s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		if err := tx.PutBlob(pendingKey(r.NationalID, r.ID), nil); err != nil {
			return err
		}
		return putHashAuth(tx, r)
	})
	if err != nil {
		return fail(err)
	}
	return r.HashAuthorization, nil
}

// pendingKey indexes a citizen's authorizations for the app's list.
func pendingKey(nid, id string) string { return "csc-by-citizen/" + nid + "/" + id }

// maxListedAuthorizations bounds the app's list.
const maxListedAuthorizations = 100

// PendingHashAuthorizations lists the citizen's authorizations waiting for
// approval, oldest first.
func (s *Service) PendingHashAuthorizations(ctx context.Context, by Principal) ([]HashAuthorization, error) {
	if !by.isCitizen() {
		return nil, fmt.Errorf("list authorizations: %w", ErrForbidden)
	}
	out := []HashAuthorization{}
	err := s.st.SigningView(ctx, func(tx store.SigningTx) error {
		prefix := pendingKey(by.Citizen.NationalID, "")
		keys, err := tx.BlobKeys(prefix, 10*maxListedAuthorizations)
		if err != nil {
			return err
		}
		for _, k := range keys {
			r, err := s.loadHashAuth(tx, by, k[len(prefix):])
			if err != nil {
				return err
			}
			if r.State == HashPending && len(out) < maxListedAuthorizations {
				out = append(out, r.HashAuthorization)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list authorizations: %w", err)
	}
	return out, nil
}

// HashAuthorizationOf returns an authorization of the citizen, for review
// in the app.
func (s *Service) HashAuthorizationOf(ctx context.Context, by Principal, id string) (HashAuthorization, error) {
	var r hashAuthRecord
	err := s.st.SigningView(ctx, func(tx store.SigningTx) (err error) {
		r, err = s.loadHashAuth(tx, by, id)
		return err
	})
	if err != nil {
		return HashAuthorization{}, fmt.Errorf("get authorization: %w", err)
	}
	return r.HashAuthorization, nil
}

// pendingHashAuth loads an authorization waiting for approval.
func (s *Service) pendingHashAuth(ctx context.Context, by Principal, id string) (hashAuthRecord, error) {
	var r hashAuthRecord
	err := s.st.SigningView(ctx, func(tx store.SigningTx) (err error) {
		r, err = s.loadHashAuth(tx, by, id)
		return err
	})
	switch {
	case err != nil:
		return r, err
	case r.State == HashExpired:
		return r, fmt.Errorf("%w: authorization expired", ErrExpired)
	case r.State != HashPending:
		return r, fmt.Errorf("%w: the authorization is %s", ErrState, r.State)
	}
	return r, nil
}

// BeginHashApproval begins the citizen's passkey approval of exactly the
// authorization's hashes.
func (s *Service) BeginHashApproval(ctx context.Context, by Principal, id string) (Challenge, error) {
	fail := func(err error) (Challenge, error) { return Challenge{}, fmt.Errorf("begin approval: %w", err) }
	r, err := s.pendingHashAuth(ctx, by, id)
	if err != nil {
		return fail(err)
	}
	sc := enrollment.ApprovalScope{RequestID: hashAuthPrefix + r.ID, Algorithm: enrollment.AlgECDSASHA256, Digests: r.Hashes,
		Expires: s.now().Add(s.opts.ApprovalTTL).Truncate(time.Second)}
	begun, err := s.ra.BeginApproval(ctx, *by.Citizen, sc)
	if err != nil {
		return fail(err)
	}
	err = s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		cur, err := s.loadHashAuth(tx, by, id)
		if err != nil {
			return err
		}
		if cur.State != HashPending {
			return fmt.Errorf("%w: the authorization is %s", ErrState, cur.State)
		}
		cur.Ceremony, cur.ApprovalExpires = begun.CeremonyID, sc.Expires
		return putHashAuth(tx, cur)
	})
	if err != nil {
		return fail(err)
	}
	return Challenge{CeremonyID: begun.CeremonyID, Options: begun.Options, Code: begun.Code, Expires: begun.Expires,
		Algorithm: sc.Algorithm, Digests: r.Hashes, Nonce: begun.Nonce}, nil
}

// ApproveHashes verifies the citizen's assertion over the authorization's
// hashes and has the key sign them; the signatures wait for the client's
// signHash.
func (s *Service) ApproveHashes(ctx context.Context, by Principal, id, ceremonyID string, assertion []byte) (HashAuthorization, error) {
	fail := func(err error) (HashAuthorization, error) { return HashAuthorization{}, fmt.Errorf("approve: %w", err) }
	r, err := s.pendingHashAuth(ctx, by, id)
	if err != nil {
		return fail(err)
	}
	if r.Ceremony == "" || r.Ceremony != ceremonyID {
		return fail(fmt.Errorf("%w: no approval under way with that ceremony", ErrState))
	}
	sc := enrollment.ApprovalScope{RequestID: hashAuthPrefix + r.ID, Algorithm: enrollment.AlgECDSASHA256, Digests: r.Hashes, Expires: r.ApprovalExpires}
	approval, err := s.ra.FinishApproval(ctx, *by.Citizen, ceremonyID, sc, assertion)
	if err != nil {
		return fail(err)
	}
	sigs, err := s.ra.SignApproved(ctx, approval)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrSigning, err))
	}
	err = s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		cur, err := s.loadHashAuth(tx, by, id)
		if err != nil {
			return err
		}
		if cur.State != HashPending || cur.Ceremony != ceremonyID {
			return fmt.Errorf("%w: the authorization changed meanwhile", ErrState)
		}
		cur.State, cur.Ceremony, cur.Signatures = HashApproved, "", sigs
		r = cur
		return putHashAuth(tx, cur)
	})
	if err != nil {
		return fail(err)
	}
	return r.HashAuthorization, nil
}

// RejectHashes records the citizen's refusal.
func (s *Service) RejectHashes(ctx context.Context, by Principal, id string) (HashAuthorization, error) {
	var out HashAuthorization
	err := s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		cur, err := s.loadHashAuth(tx, by, id)
		if err != nil {
			return err
		}
		if cur.State != HashPending {
			return fmt.Errorf("%w: the authorization is %s", ErrState, cur.State)
		}
		cur.State, cur.Ceremony = HashRejected, ""
		out = cur.HashAuthorization
		return putHashAuth(tx, cur)
	})
	if err != nil {
		return HashAuthorization{}, fmt.Errorf("reject: %w", err)
	}
	return out, nil
}

// SAD is signature activation data handed to a CSC client.
type SAD struct {
	SAD       string
	ExpiresIn int // seconds
}

// AuthorizeCheck reports an authorization's progress: pending (zero SAD
// and nil error), or approved with its SAD, delivered once.
func (s *Service) AuthorizeCheck(ctx context.Context, by Principal, credentialID, id string) (SAD, string, error) {
	var out SAD
	var state string
	err := s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		out, state = SAD{}, ""
		cur, err := s.loadHashAuth(tx, by, id)
		if err != nil {
			return err
		}
		if cur.CredentialID != credentialID {
			return fmt.Errorf("%w: credential %q", ErrNotFound, credentialID)
		}
		state = cur.State
		switch cur.State {
		case HashPending:
			return nil
		case HashExpired:
			return fmt.Errorf("%w: authorization expired", ErrExpired)
		case HashRejected:
			return fmt.Errorf("%w: the citizen refused", ErrState)
		}
		if cur.SADDelivered {
			return fmt.Errorf("%w: already delivered", ErrSAD)
		}
		secret, err := s.randomID(32)
		if err != nil {
			return err
		}
		h := sha256.Sum256([]byte(secret))
		cur.SADHash, cur.SADExpires, cur.SADDelivered = h[:], s.now().Add(sadTTL), true
		out = SAD{SAD: cur.ID + "." + secret, ExpiresIn: int(sadTTL / time.Second)}
		return putHashAuth(tx, cur)
	})
	if err != nil {
		return SAD{}, state, fmt.Errorf("authorize check: %w", err)
	}
	return out, state, nil
}

// useSAD runs fn on the authorization of a live, unused SAD. A SAD is
// "<authorization id>.<secret>"; only the secret's hash is stored.
func (s *Service) useSAD(ctx context.Context, by Principal, credentialID, sad string, fn func(cur *hashAuthRecord) error) error {
	id, secret, ok := bytes.Cut([]byte(sad), []byte("."))
	if !ok || len(sad) > 200 {
		return fmt.Errorf("%w: malformed", ErrSAD)
	}
	return s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		cur, err := s.loadHashAuth(tx, by, string(id))
		if err != nil {
			return fmt.Errorf("%w: unknown", ErrSAD)
		}
		h := sha256.Sum256(secret)
		switch {
		case cur.CredentialID != credentialID:
			return fmt.Errorf("%w: credential %q", ErrSAD, credentialID)
		case len(cur.SADHash) == 0 || subtle.ConstantTimeCompare(cur.SADHash, h[:]) != 1:
			return fmt.Errorf("%w: unknown", ErrSAD)
		case cur.SADUsed:
			return fmt.Errorf("%w: already used", ErrSAD)
		case !s.now().Before(cur.SADExpires):
			return fmt.Errorf("%w: expired", ErrSAD)
		}
		if err := fn(&cur); err != nil {
			return err
		}
		return putHashAuth(tx, cur)
	})
}

// SignHash returns the signatures of hashes, which must all be bound to
// the SAD, and uses the SAD up.
func (s *Service) SignHash(ctx context.Context, by Principal, credentialID, sad string, hashes [][]byte, hashAlg string) ([][]byte, error) {
	if hashAlg != OIDSHA256 {
		return nil, fmt.Errorf("sign hash: %w: hash algorithm %q", ErrInvalid, hashAlg)
	}
	if len(hashes) == 0 || len(hashes) > enrollment.MaxApprovalDigests {
		return nil, fmt.Errorf("sign hash: %w: %d hashes", ErrInvalid, len(hashes))
	}
	var out [][]byte
	err := s.useSAD(ctx, by, credentialID, sad, func(cur *hashAuthRecord) error {
		out = make([][]byte, len(hashes))
		for i, h := range hashes {
			j := indexOf(cur.Hashes, h)
			if j < 0 {
				return fmt.Errorf("%w: hash %d is not bound to this SAD", ErrSAD, i)
			}
			out[i] = cur.Signatures[j]
		}
		cur.SADUsed = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sign hash: %w", err)
	}
	return out, nil
}

// ExtendTransaction replaces a SAD by a fresh one (the old one stops
// working), within the authorization's lifetime.
func (s *Service) ExtendTransaction(ctx context.Context, by Principal, credentialID, sad string) (SAD, error) {
	var out SAD
	err := s.useSAD(ctx, by, credentialID, sad, func(cur *hashAuthRecord) error {
		secret, err := s.randomID(32)
		if err != nil {
			return err
		}
		exp := s.now().Add(sadTTL)
		if limit := cur.Created.Add(maxHashAuthLife + sadTTL); exp.After(limit) {
			exp = limit
		}
		if !s.now().Before(exp) {
			return fmt.Errorf("%w: the authorization cannot be extended any more", ErrSAD)
		}
		h := sha256.Sum256([]byte(secret))
		cur.SADHash, cur.SADExpires = h[:], exp
		out = SAD{SAD: cur.ID + "." + secret, ExpiresIn: int(exp.Sub(s.now()) / time.Second)}
		return nil
	})
	if err != nil {
		return SAD{}, fmt.Errorf("extend transaction: %w", err)
	}
	return out, nil
}

func indexOf(hs [][]byte, h []byte) int {
	for i, x := range hs {
		if bytes.Equal(x, h) {
			return i
		}
	}
	return -1
}

// Timestamp returns an RFC 3161 time-stamp token over a SHA-256 hash from
// Thiqa's time-stamping unit.
func (s *Service) Timestamp(ctx context.Context, hash []byte, hashAlg string) ([]byte, error) {
	if hashAlg != OIDSHA256 || len(hash) != sha256.Size {
		return nil, fmt.Errorf("timestamp: %w: want a SHA-256 hash", ErrInvalid)
	}
	tok, err := s.trust.Timestamp(ctx, crypto.SHA256, hash)
	if err != nil {
		return nil, fmt.Errorf("timestamp: %w", err)
	}
	return tok, nil
}
