package enrollment

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/internal/natid"
	"github.com/thiqa/thiqa/store"
)

// key returns the named citizen key, generating it the first time: an
// activation retried after a failure reuses the key.
func (s *Service) key(ctx context.Context, id hsm.KeyID) (hsm.Key, error) {
	k, err := s.keys.GenerateKey(ctx, id, hsm.ECDSAP256)
	if errors.Is(err, hsm.ErrKeyExists) {
		k, err = s.keys.Key(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("citizen key %s: %w", id, err)
	}
	return k, nil
}

// citizenKeys returns the public keys of an identity being activated,
// making them on first use: wrapped blobs stored with the identity when the
// service has WrappedCustody, named custody keys otherwise. An activation
// retried after a failure reuses them.
func (s *Service) citizenKeys(ctx context.Context, id store.Identity) (store.Identity, [2]crypto.PublicKey, error) {
	var pubs [2]crypto.PublicKey
	if s.opts.Wrapped == nil {
		keyID := hsm.KeyID("citizen-" + strings.ToLower(id.ID))
		for i, kid := range []hsm.KeyID{keyID, keyID + "-auth"} {
			k, err := s.key(ctx, kid)
			if err != nil {
				return id, pubs, err
			}
			pubs[i] = k.Public()
		}
		id.KeyID = string(keyID)
		return id, pubs, nil
	}
	if len(id.SigningKey) == 0 || len(id.AuthKey) == 0 {
		var blobs, ders [2][]byte
		for i := range blobs {
			var pub crypto.PublicKey
			var err error
			if blobs[i], pub, err = s.opts.Wrapped.NewWrappedKey(ctx, wrappedOwner(id.ID), hsm.ECDSAP256); err != nil {
				return id, pubs, fmt.Errorf("citizen key: %w", err)
			}
			if ders[i], err = x509.MarshalPKIXPublicKey(pub); err != nil {
				return id, pubs, fmt.Errorf("citizen key: %w", err)
			}
		}
		// Store the blobs before any certificate names their keys.
		err := s.update(ctx, func(tx store.EnrollmentTx) error {
			cur, err := tx.Identity(id.NationalID)
			if err != nil {
				return err
			}
			if cur.ID != id.ID || cur.State != store.IdentityActivating {
				return fmt.Errorf("%w: identity changed during activation", ErrState)
			}
			cur.SigningKey, cur.AuthKey = blobs[0], blobs[1]
			cur.SigningPub, cur.AuthPub = ders[0], ders[1]
			id, err = tx.PutIdentity(cur)
			return err
		})
		if err != nil {
			return id, pubs, err
		}
	}
	for i, der := range [][]byte{id.SigningPub, id.AuthPub} {
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return id, pubs, fmt.Errorf("citizen key: %w", err)
		}
		pubs[i] = pub
	}
	return id, pubs, nil
}

// wrappedOwner is what a citizen's wrapped keys are bound to: the identity
// generation's ID, so a blob moved to another identity (or kept across a
// re-enrolment) does not open.
func wrappedOwner(identityID string) string { return "identity:" + identityID }

// issue makes the keys and certificates of an identity being activated
// and marks it active.
func (s *Service) issue(ctx context.Context, id store.Identity) (Activation, error) {
	subject := ca.Subject{NationalID: id.NationalID, GivenName: id.GivenName, Surname: id.Surname,
		GivenNameAr: id.GivenNameAr, SurnameAr: id.SurnameAr}
	id, pubs, err := s.citizenKeys(ctx, id)
	if err != nil {
		return Activation{}, fmt.Errorf("activate: %w", err)
	}
	var certs [2]*x509.Certificate
	for i, profile := range []ca.Profile{ca.CitizenSigning, ca.CitizenAuth} {
		if certs[i], err = s.ca.Issue(ctx, ca.Request{Profile: profile, PublicKey: pubs[i], Subject: subject}); err != nil {
			return Activation{}, fmt.Errorf("activate: issue %s certificate: %w", profile, err)
		}
	}
	now := s.now()
	err = s.update(ctx, func(tx store.EnrollmentTx) error {
		cur, err := tx.Identity(id.NationalID)
		if err != nil {
			return err
		}
		if cur.ID != id.ID || cur.State != store.IdentityActivating {
			return fmt.Errorf("%w: identity changed during activation", ErrState)
		}
		cur.State, cur.KeyID, cur.UpdatedAt = store.IdentityActive, id.KeyID, now
		cur.SigningCert, cur.AuthCert = ca.SerialString(certs[0].SerialNumber), ca.SerialString(certs[1].SerialNumber)
		if id, err = tx.PutIdentity(cur); err != nil {
			return err
		}
		keys := "keys wrapped by custody"
		if id.KeyID != "" {
			keys = "key " + id.KeyID
		}
		return tx.AppendEvent(store.Event{At: now, Actor: "citizen:" + id.NationalID, Action: "activate", Subject: identitySubject(id.NationalID),
			Detail: keys + ", signing " + id.SigningCert + " auth " + id.AuthCert})
	})
	if err != nil {
		return Activation{}, fmt.Errorf("activate: %w", err)
	}
	return Activation{Identity: fullView(id, nil), SigningCert: certs[0].Raw, AuthCert: certs[1].Raw}, nil
}

func checkWhy(why string) (string, error) {
	why = strings.TrimSpace(why)
	if why == "" || !utf8.ValidString(why) || utf8.RuneCountInString(why) > 500 {
		return "", fmt.Errorf("%w: a reason (1-500 characters) is required", ErrInvalid)
	}
	return why, nil
}

// change applies fn to an identity that by may act on, and records the
// event, in one transaction.
func (s *Service) change(ctx context.Context, by Principal, nationalID, action, why string, fn func(*store.Identity) (string, error)) (store.Identity, error) {
	nid, err := natid.Normalize(nationalID)
	if err != nil {
		return store.Identity{}, fmt.Errorf("%s: %w: %w", action, ErrInvalid, err)
	}
	var id store.Identity
	err = s.update(ctx, func(tx store.EnrollmentTx) error {
		var err error
		if id, err = tx.Identity(nid); err != nil {
			return notFound(err, "identity")
		}
		if err := by.mayActOn(id); err != nil {
			return err
		}
		detail, err := fn(&id)
		if err != nil {
			return err
		}
		id.UpdatedAt = s.now()
		if id, err = tx.PutIdentity(id); err != nil {
			return err
		}
		return tx.AppendEvent(s.event(by, action, identitySubject(nid), why, detail))
	})
	if err != nil {
		return store.Identity{}, fmt.Errorf("%s: %w", action, err)
	}
	return id, nil
}

// DisableDevice disables one passkey (a lost phone): by the citizen from
// another device, or by an officer of the identity's centre. The keys in
// custody and the certificates are untouched.
func (s *Service) DisableDevice(ctx context.Context, by Principal, nationalID, deviceID, why string) (IdentityView, error) {
	why, err := checkWhy(why)
	if err != nil {
		return IdentityView{}, fmt.Errorf("disable device: %w", err)
	}
	cred, err := base64.RawURLEncoding.DecodeString(deviceID)
	if err != nil || len(cred) == 0 || len(cred) > 1024 {
		return IdentityView{}, fmt.Errorf("disable device: %w: device id", ErrInvalid)
	}
	id, err := s.change(ctx, by, nationalID, "device-disable", why, func(id *store.Identity) (string, error) {
		i := passkeyIndex(*id, cred)
		if i < 0 {
			return "", fmt.Errorf("%w: device", ErrNotFound)
		}
		pk := &id.Credentials[i]
		if pk.Disabled {
			return "", fmt.Errorf("%w: device already disabled", ErrState)
		}
		pk.Disabled, pk.DisabledAt, pk.DisabledBy = true, s.now(), by.actor()
		return pk.Name + " " + deviceID, nil
	})
	if err != nil {
		return IdentityView{}, err
	}
	return fullView(id, nil), nil
}

// Suspend puts the identity's certificates on hold: it can still sign in
// but not sign. The citizen or an officer of the identity's centre may.
func (s *Service) Suspend(ctx context.Context, by Principal, nationalID, why string) (IdentityView, error) {
	return s.setHold(ctx, by, nationalID, why, true)
}

// Resume takes the certificates off hold.
func (s *Service) Resume(ctx context.Context, by Principal, nationalID, why string) (IdentityView, error) {
	if by.Kind == KindCitizen {
		return IdentityView{}, fmt.Errorf("resume: %w: an officer resumes a suspended identity", ErrForbidden)
	}
	return s.setHold(ctx, by, nationalID, why, false)
}

func (s *Service) setHold(ctx context.Context, by Principal, nationalID, why string, hold bool) (IdentityView, error) {
	action, from, to := "resume", store.IdentitySuspended, store.IdentityActive
	if hold {
		action, from, to = "suspend", store.IdentityActive, store.IdentitySuspended
	}
	why, err := checkWhy(why)
	if err != nil {
		return IdentityView{}, fmt.Errorf("%s: %w", action, err)
	}
	cur, err := s.Identity(ctx, by, nationalID)
	if err == nil && cur.Limited {
		err = fmt.Errorf("%w: identity of centre %s", ErrForbidden, cur.Centre)
	}
	if err == nil && cur.State != from {
		err = fmt.Errorf("%w: identity is %s", ErrState, cur.State)
	}
	if err != nil {
		return IdentityView{}, fmt.Errorf("%s: %w", action, err)
	}
	for _, serial := range []string{cur.SigningCert, cur.AuthCert} {
		n, ok := new(big.Int).SetString(serial, 16)
		if !ok {
			return IdentityView{}, fmt.Errorf("%s: bad serial %q", action, serial)
		}
		if hold {
			_, err = s.ca.Revoke(ctx, n, ca.ReasonCertificateHold)
			if errors.Is(err, ca.ErrBadReason) { // already on hold
				err = nil
			}
		} else {
			_, err = s.ca.Release(ctx, n)
			if errors.Is(err, ca.ErrNotOnHold) {
				err = nil
			}
		}
		if err != nil {
			return IdentityView{}, fmt.Errorf("%s: %w", action, err)
		}
	}
	id, err := s.change(ctx, by, nationalID, action, why, func(id *store.Identity) (string, error) {
		if id.State != from {
			return "", fmt.Errorf("%w: identity is %s", ErrState, id.State)
		}
		id.State = to
		return id.SigningCert + " " + id.AuthCert, nil
	})
	if err != nil {
		return IdentityView{}, err
	}
	return fullView(id, nil), nil
}

// RequestRevocation asks for the revocation of an identity's certificates.
// A citizen (signed in with a passkey within Options.StepUp) revokes at
// once; an officer's request waits for the approval of a second person, a
// supervisor of the centre or an admin ([Service.Approve]).
func (s *Service) RequestRevocation(ctx context.Context, by Principal, nationalID, reason, why string) (store.Approval, error) {
	why, err := checkWhy(why)
	if err != nil {
		return store.Approval{}, fmt.Errorf("request revocation: %w", err)
	}
	r, err := ca.ParseReason(reason)
	if err != nil || r == ca.ReasonCertificateHold || r == ca.ReasonCACompromise || r == ca.ReasonAACompromise {
		return store.Approval{}, fmt.Errorf("request revocation: %w: reason %q", ErrInvalid, reason)
	}
	if by.Kind == KindCitizen && s.now().Sub(by.AuthTime) > s.opts.StepUp {
		return store.Approval{}, fmt.Errorf("request revocation: %w: sign in again with a passkey first", ErrUnauthenticated)
	}
	aid, err := s.randomID(12)
	if err != nil {
		return store.Approval{}, err
	}
	now := s.now()
	a := store.Approval{ID: aid, Action: ActionRevoke, Reason: r.String(), Why: why, RequestedBy: by.actor(), RequestedAt: now, Status: "pending"}
	id, err := s.change(ctx, by, nationalID, "revoke-request", why, func(id *store.Identity) (string, error) {
		if id.State != store.IdentityActive && id.State != store.IdentitySuspended {
			return "", fmt.Errorf("%w: identity is %s", ErrState, id.State)
		}
		a.NationalID = id.NationalID
		return "approval " + aid + " reason " + r.String(), nil
	})
	if err != nil {
		return store.Approval{}, err
	}
	if by.Kind == KindCitizen {
		a.DecidedBy, a.DecidedAt, a.Status = by.actor(), now, "approved"
		return a, s.revoke(ctx, by, id, a)
	}
	err = s.update(ctx, func(tx store.EnrollmentTx) error { return tx.PutApproval(a) })
	return a, err
}

// maxPending bounds the list of pending approvals.
const maxPending = 1000

// PendingApprovals lists the requests waiting for the principal's
// approval: those of identities of a supervisor's centre, or all for an
// admin. The requester's own are included (they cannot approve them).
func (s *Service) PendingApprovals(ctx context.Context, by Principal) ([]store.Approval, error) {
	if !by.isAdmin() && by.Role != store.RoleSupervisor {
		return nil, fmt.Errorf("pending approvals: %w", ErrForbidden)
	}
	var out []store.Approval
	err := s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
		all, err := tx.Approvals("pending", maxPending)
		if err != nil {
			return err
		}
		for _, a := range all {
			if a.Action != ActionRevoke {
				continue
			}
			id, err := tx.Identity(a.NationalID)
			if err == nil && by.mayActOn(id) == nil {
				out = append(out, a)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pending approvals: %w", err)
	}
	return out, nil
}

// Approve approves (or rejects) a pending request: only a supervisor of
// the identity's centre or an admin, and never the requester.
func (s *Service) Approve(ctx context.Context, by Principal, approvalID string, approve bool) (store.Approval, error) {
	if !by.isAdmin() && by.Role != store.RoleSupervisor {
		return store.Approval{}, fmt.Errorf("approve: %w: supervisors and admins approve", ErrForbidden)
	}
	var a store.Approval
	var id store.Identity
	now := s.now()
	err := s.update(ctx, func(tx store.EnrollmentTx) error {
		var err error
		if a, err = tx.Approval(approvalID); err != nil {
			return notFound(err, "approval")
		}
		if a.Action != ActionRevoke {
			return fmt.Errorf("%w: approval", ErrNotFound)
		}
		if id, err = tx.Identity(a.NationalID); err != nil {
			return err
		}
		switch {
		case a.Status != "pending":
			return fmt.Errorf("%w: request is %s", ErrState, a.Status)
		case a.RequestedBy == by.actor():
			return fmt.Errorf("%w: four eyes: the requester cannot approve", ErrForbidden)
		}
		if err := by.mayActOn(id); err != nil {
			return err
		}
		a.DecidedBy, a.DecidedAt, a.Status = by.actor(), now, "rejected"
		if approve {
			a.Status = "approved"
		}
		if err := tx.PutApproval(a); err != nil {
			return err
		}
		return tx.AppendEvent(s.event(by, "revoke-"+a.Status, identitySubject(a.NationalID), a.Why, "approval "+a.ID))
	})
	if err != nil {
		return store.Approval{}, fmt.Errorf("approve: %w", err)
	}
	if !approve {
		return a, nil
	}
	return a, s.revoke(ctx, by, id, a)
}

// revoke revokes the certificates and marks the identity revoked.
func (s *Service) revoke(ctx context.Context, by Principal, id store.Identity, a store.Approval) error {
	r, err := ca.ParseReason(a.Reason)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	for _, serial := range []string{id.SigningCert, id.AuthCert} {
		n, ok := new(big.Int).SetString(serial, 16)
		if !ok {
			return fmt.Errorf("revoke: bad serial %q", serial)
		}
		if _, err := s.ca.Revoke(ctx, n, r); err != nil && !errors.Is(err, ca.ErrAlreadyRevoked) {
			return fmt.Errorf("revoke: %w", err)
		}
	}
	_, err = s.change(ctx, by, id.NationalID, "revoke", a.Why, func(cur *store.Identity) (string, error) {
		if cur.ID != id.ID {
			return "", fmt.Errorf("%w: identity changed", ErrState)
		}
		cur.State = store.IdentityRevoked
		return "approval " + a.ID + " requested by " + a.RequestedBy + " reason " + a.Reason, nil
	})
	return err
}
