package enrollment

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/thiqa/thiqa/store"
)

// BeginSignIn begins a passkey sign-in (discoverable credentials: the
// authenticator names the citizen).
func (s *Service) BeginSignIn(ctx context.Context) (Challenge, error) {
	opts, sess, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return Challenge{}, fmt.Errorf("begin sign-in: webauthn: %w", err)
	}
	var out Challenge
	err = s.update(ctx, func(tx store.EnrollmentTx) (err error) {
		out, err = s.saveCeremony(tx, ceremonySignIn, store.Identity{}, nil, sess, opts)
		return err
	})
	if err != nil {
		return Challenge{}, fmt.Errorf("begin sign-in: %w", err)
	}
	return out, nil
}

// FinishSignIn verifies a passkey assertion and opens a citizen session.
// The ceremony is used once (a replayed assertion finds it gone), the sign
// counter must grow when the authenticator keeps one, the backup-eligible
// flag must not change, and a disabled passkey or a revoked identity is
// refused.
func (s *Service) FinishSignIn(ctx context.Context, ceremonyID string, response []byte) (SessionToken, Principal, error) {
	fail := func(err error) (SessionToken, Principal, error) {
		return SessionToken{}, Principal{}, fmt.Errorf("finish sign-in: %w", err)
	}
	c, sess, err := s.loadCeremony(ctx, ceremonyID, ceremonySignIn)
	if err != nil {
		return fail(err)
	}
	if len(response) > maxResponse {
		return fail(fmt.Errorf("%w: response over %d bytes", ErrWebAuthn, maxResponse))
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return fail(fmt.Errorf("%w: %s", ErrWebAuthn, describe(err)))
	}
	var id store.Identity
	lookup := func(rawID, handle []byte) (webauthn.User, error) {
		if len(handle) > 64 {
			return nil, ErrNotFound
		}
		err := s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) {
			id, err = tx.IdentityByID(string(handle))
			return err
		})
		if err != nil || id.ID != string(handle) {
			return nil, ErrNotFound
		}
		return waUser{id}, nil
	}
	_, cred, err := s.wa.ValidatePasskeyLogin(lookup, sess, parsed)
	if err != nil {
		return fail(fmt.Errorf("%w: %s", ErrWebAuthn, describe(err)))
	}
	if cred.Authenticator.CloneWarning {
		return fail(fmt.Errorf("%w: sign counter did not increase (cloned authenticator?)", ErrWebAuthn))
	}
	if id.State != store.IdentityActive && id.State != store.IdentitySuspended {
		return fail(fmt.Errorf("%w: identity is %s", ErrState, id.State))
	}
	tok, hash, err := s.newToken()
	if err != nil {
		return fail(err)
	}
	now := s.now()
	p := Principal{Kind: KindCitizen, IdentityID: id.ID, NationalID: id.NationalID, Credential: cred.ID, AuthTime: now}
	err = s.update(ctx, func(tx store.EnrollmentTx) error {
		if err := tx.DeleteCeremony(c.ID); err != nil {
			return ErrCeremony
		}
		cur, err := tx.IdentityByID(id.ID)
		if err != nil || cur.ID != id.ID {
			return ErrState
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
		pk.SignCount, pk.BackupState, pk.LastUsed = n, cred.Flags.BackupState, now
		if _, err := tx.PutIdentity(cur); err != nil {
			return err
		}
		if _, err := tx.PurgeExpired(hash, purgeBatch, now); err != nil {
			return err
		}
		if err := tx.PutSession(store.Session{Hash: hash, Kind: store.SessionCitizen, Subject: cur.ID, NationalID: cur.NationalID,
			Credential: cred.ID, Created: now, Expires: now.Add(s.opts.CitizenSessionTTL)}); err != nil {
			return err
		}
		// The audit log gets a pseudonymised copy (citizen:<identity ID>).
		return tx.AppendEvent(store.Event{At: now, Actor: p.actor(), Action: "signin", Subject: identitySubject(cur.NationalID),
			Detail: "passkey " + base64.RawURLEncoding.EncodeToString(cred.ID)})
	})
	if err != nil {
		return fail(err)
	}
	return SessionToken{Token: tok, Expires: now.Add(s.opts.CitizenSessionTTL)}, p, nil
}

func passkeyIndex(id store.Identity, cred []byte) int {
	for i, c := range id.Credentials {
		if bytes.Equal(c.ID, cred) {
			return i
		}
	}
	return -1
}

// BeginAddDevice begins registering another passkey, approved by the
// citizen's recent sign-in with an existing one.
func (s *Service) BeginAddDevice(ctx context.Context, by Principal) (Challenge, error) {
	if by.Kind != KindCitizen {
		return Challenge{}, fmt.Errorf("begin add device: %w", ErrForbidden)
	}
	if s.now().Sub(by.AuthTime) > s.opts.StepUp {
		return Challenge{}, fmt.Errorf("begin add device: %w: sign in again with a passkey first", ErrUnauthenticated)
	}
	var out Challenge
	err := s.update(ctx, func(tx store.EnrollmentTx) error {
		id, err := tx.IdentityByID(by.IdentityID)
		if err != nil || id.ID != by.IdentityID {
			return ErrUnauthenticated
		}
		if id.State != store.IdentityActive {
			return fmt.Errorf("%w: identity is %s", ErrState, id.State)
		}
		u := waUser{id}
		opts, sess, err := s.wa.BeginRegistration(u, webauthn.WithExclusions(webauthn.Credentials(u.WebAuthnCredentials()).CredentialDescriptors()))
		if err != nil {
			return fmt.Errorf("webauthn: %w", err)
		}
		out, err = s.saveCeremony(tx, ceremonyAddDevice+"-self", id, nil, sess, opts)
		return err
	})
	if err != nil {
		return Challenge{}, fmt.Errorf("begin add device: %w", err)
	}
	return out, nil
}

// FinishAddDevice verifies the new passkey's registration and adds it; the
// others stay enabled.
func (s *Service) FinishAddDevice(ctx context.Context, by Principal, ceremonyID, deviceName string, response []byte) (IdentityView, error) {
	name, err := checkDeviceName(deviceName)
	if err != nil {
		return IdentityView{}, fmt.Errorf("finish add device: %w", err)
	}
	c, pk, err := s.verifyRegistration(ctx, ceremonyID, ceremonyAddDevice+"-self", response)
	if err != nil {
		return IdentityView{}, fmt.Errorf("finish add device: %w", err)
	}
	if by.Kind != KindCitizen || c.IdentityID != by.IdentityID {
		return IdentityView{}, fmt.Errorf("finish add device: %w", ErrForbidden)
	}
	pk.Name = name
	now := s.now()
	var id store.Identity
	err = s.update(ctx, func(tx store.EnrollmentTx) error {
		if err := tx.DeleteCeremony(c.ID); err != nil {
			return ErrCeremony
		}
		var err error
		if id, err = tx.IdentityByID(by.IdentityID); err != nil || id.ID != by.IdentityID {
			return ErrUnauthenticated
		}
		if id.State != store.IdentityActive {
			return fmt.Errorf("%w: identity is %s", ErrState, id.State)
		}
		if hasPasskey(id, pk.ID) {
			return fmt.Errorf("%w: passkey already registered", ErrWebAuthn)
		}
		id.Credentials, id.UpdatedAt = append(id.Credentials, pk), now
		if id, err = tx.PutIdentity(id); err != nil {
			return err
		}
		return tx.AppendEvent(store.Event{At: now, Actor: by.actor(), Action: "device-add", Subject: identitySubject(id.NationalID),
			Detail: name + " " + base64.RawURLEncoding.EncodeToString(pk.ID), Why: "approved with passkey " + base64.RawURLEncoding.EncodeToString(by.Credential)})
	})
	if err != nil {
		return IdentityView{}, fmt.Errorf("finish add device: %w", err)
	}
	return fullView(id, nil), nil
}
