package enrollment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/thiqa/thiqa/internal/natid"
	"github.com/thiqa/thiqa/store"
)

// Ceremony kinds.
const (
	ceremonyActivate  = "activate"
	ceremonyAddDevice = "add-device"
	ceremonySignIn    = "signin"
)

// purgeBatch is how many stored sessions and ceremonies each new one
// looks at to delete the expired (see store.EnrollmentTx.PurgeExpired).
const purgeBatch = 4

// maxResponse bounds a WebAuthn response body.
const maxResponse = 64 << 10

// Challenge is a WebAuthn ceremony begun: its ID, to send back with the
// response, and the options for navigator.credentials.create or .get
// (JSON).
type Challenge struct {
	CeremonyID string          `json:"ceremony_id"`
	Options    json.RawMessage `json:"options"`
}

// waUser adapts an identity to the WebAuthn library.
type waUser struct{ id store.Identity }

func (u waUser) WebAuthnID() []byte          { return []byte(u.id.ID) }
func (u waUser) WebAuthnName() string        { return u.id.NationalID }
func (u waUser) WebAuthnDisplayName() string { return u.id.GivenName + " " + u.id.Surname }
func (u waUser) WebAuthnCredentials() []webauthn.Credential {
	var out []webauthn.Credential
	for _, c := range u.id.Credentials {
		if c.Disabled {
			continue
		}
		out = append(out, webauthn.Credential{ID: c.ID, PublicKey: c.PublicKey, AttestationFormat: c.AttestationFmt,
			Flags:         webauthn.CredentialFlags{UserPresent: c.UserPresent, UserVerified: c.UserVerified, BackupEligible: c.BackupEligible, BackupState: c.BackupState},
			Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount}})
	}
	return out
}

func (s *Service) saveCeremony(tx store.EnrollmentTx, kind string, id store.Identity, codeHash []byte, sess *webauthn.SessionData, opts any) (Challenge, error) {
	cid, err := s.randomID(18)
	if err != nil {
		return Challenge{}, err
	}
	sess.Expires = s.now().Add(s.opts.CeremonyTTL) // checked here, with the injected clock
	raw, err := json.Marshal(sess)
	if err != nil {
		return Challenge{}, err
	}
	optJSON, err := json.Marshal(opts)
	if err != nil {
		return Challenge{}, err
	}
	c := store.WebAuthnCeremony{ID: cid, Kind: kind, NationalID: id.NationalID, IdentityID: id.ID,
		CodeHash: codeHash, Session: raw, Expires: sess.Expires}
	if err := tx.PutCeremony(c); err != nil {
		return Challenge{}, err
	}
	if _, err := tx.PurgeExpired([]byte(cid), purgeBatch, s.now()); err != nil {
		return Challenge{}, err
	}
	return Challenge{CeremonyID: cid, Options: optJSON}, nil
}

// loadCeremony returns a live ceremony of the given kind and its library
// session (with the expiry cleared: the library would read the wall
// clock).
func (s *Service) loadCeremony(ctx context.Context, id, kind string) (store.WebAuthnCeremony, webauthn.SessionData, error) {
	var c store.WebAuthnCeremony
	var sess webauthn.SessionData
	if len(id) > 64 {
		return c, sess, ErrCeremony
	}
	err := s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) {
		c, err = tx.Ceremony(id)
		return err
	})
	if err != nil || c.Kind != kind || !s.now().Before(c.Expires) {
		return c, sess, ErrCeremony
	}
	if err := json.Unmarshal(c.Session, &sess); err != nil {
		return c, sess, fmt.Errorf("ceremony: %w", err)
	}
	sess.Expires = time.Time{}
	return c, sess, nil
}

// BeginActivation checks a national number and activation code and begins
// the passkey registration. A wrong code counts: after Options.CodeAttempts
// of them activation is locked until an officer issues a new code.
func (s *Service) BeginActivation(ctx context.Context, nationalID, code string) (Challenge, error) {
	nid, err := natid.Normalize(nationalID)
	if err != nil {
		return Challenge{}, fmt.Errorf("begin activation: %w: %w", ErrInvalid, err)
	}
	canon, wellFormed := normalizeCode(code)
	now := s.now()
	var out Challenge
	var result error
	err = s.update(ctx, func(tx store.EnrollmentTx) error {
		out, result = Challenge{}, nil
		id, err := tx.Identity(nid)
		if errors.Is(err, store.ErrNotFound) {
			result = ErrBadCode
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case id.CodeLocked:
			result = ErrLocked
			return nil
		case len(id.CodeHash) == 0 || id.CodeUsed || !now.Before(id.CodeExpires):
			result = ErrBadCode
			return nil
		case !wellFormed || !codeMatches(id, canon):
			id.CodeFailures++
			result = ErrBadCode
			why := fmt.Sprintf("wrong activation code (%d of %d)", id.CodeFailures, s.opts.CodeAttempts)
			if id.CodeFailures >= s.opts.CodeAttempts {
				id.CodeLocked, result, why = true, ErrLocked, "activation locked after repeated wrong codes"
			}
			if _, err := tx.PutIdentity(id); err != nil {
				return err
			}
			return tx.AppendEvent(store.Event{At: now, Actor: "citizen:" + nid, Action: "code-refused", Subject: identitySubject(nid), Why: why})
		}
		if id.CodePurpose == store.CodeAddDevice && id.State != store.IdentityActive && id.State != store.IdentitySuspended {
			result = fmt.Errorf("%w: identity is %s", ErrState, id.State)
			return nil
		}
		opts, sess, err := s.wa.BeginRegistration(waUser{id}, webauthn.WithExclusions(webauthn.Credentials(waUser{id}.WebAuthnCredentials()).CredentialDescriptors()))
		if err != nil {
			return fmt.Errorf("webauthn: %w", err)
		}
		kind := ceremonyActivate
		if id.CodePurpose == store.CodeAddDevice {
			kind = ceremonyAddDevice
		}
		out, err = s.saveCeremony(tx, kind, id, id.CodeHash, sess, opts)
		return err
	})
	if err == nil {
		err = result
	}
	if err != nil {
		return Challenge{}, fmt.Errorf("begin activation: %w", err)
	}
	return out, nil
}

// Activation is the outcome of an activation: the identity and its new
// certificates (DER; nil when a device was added).
type Activation struct {
	Identity    IdentityView `json:"identity"`
	SigningCert []byte       `json:"signing_cert,omitempty"`
	AuthCert    []byte       `json:"auth_cert,omitempty"`
}

func checkDeviceName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "passkey"
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > 64 {
		return "", fmt.Errorf("%w: device name must be at most 64 characters", ErrInvalid)
	}
	return name, nil
}

// verifyRegistration checks a registration response against a ceremony.
func (s *Service) verifyRegistration(ctx context.Context, ceremonyID, kind string, response []byte) (store.WebAuthnCeremony, store.Passkey, error) {
	var pk store.Passkey
	c, sess, err := s.loadCeremony(ctx, ceremonyID, kind)
	if err != nil {
		return c, pk, err
	}
	if len(response) > maxResponse {
		return c, pk, fmt.Errorf("%w: response over %d bytes", ErrWebAuthn, maxResponse)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return c, pk, fmt.Errorf("%w: %s", ErrWebAuthn, describe(err))
	}
	var id store.Identity
	if err := s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) {
		id, err = tx.Identity(c.NationalID)
		return err
	}); err != nil {
		return c, pk, notFound(err, "identity")
	}
	cred, err := s.wa.CreateCredential(waUser{id}, sess, parsed)
	if err != nil {
		return c, pk, fmt.Errorf("%w: %s", ErrWebAuthn, describe(err))
	}
	if !cred.Flags.UserVerified {
		return c, pk, fmt.Errorf("%w: user verification is required", ErrWebAuthn)
	}
	var transports []string
	for _, t := range cred.Transport {
		transports = append(transports, string(t))
	}
	pk = store.Passkey{ID: cred.ID, PublicKey: cred.PublicKey, AttestationFmt: cred.AttestationFormat,
		AAGUID: cred.Authenticator.AAGUID, SignCount: cred.Authenticator.SignCount, UserPresent: cred.Flags.UserPresent,
		UserVerified: cred.Flags.UserVerified, BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
		Transports: transports, CreatedAt: s.now()}
	return c, pk, nil
}

// describe shortens the library's errors to their details.
func describe(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		if pe.Details != "" {
			return pe.Details
		}
		return pe.Type
	}
	return err.Error()
}

// FinishActivation verifies the passkey registration of an activation
// ceremony. For a first activation it then generates the citizen's signing
// and authentication keys in custody and has the CA issue both
// certificates, and the identity becomes active; for a device added after
// re-proofing the new passkey replaces the others.
func (s *Service) FinishActivation(ctx context.Context, ceremonyID, deviceName string, response []byte) (Activation, error) {
	name, err := checkDeviceName(deviceName)
	if err != nil {
		return Activation{}, fmt.Errorf("finish activation: %w", err)
	}
	kind := ceremonyActivate
	c, _, cerr := s.loadCeremony(ctx, ceremonyID, ceremonyActivate)
	if cerr != nil {
		if c2, _, err2 := s.loadCeremony(ctx, ceremonyID, ceremonyAddDevice); err2 == nil {
			c, kind, cerr = c2, ceremonyAddDevice, nil
		}
	}
	if cerr != nil {
		return Activation{}, fmt.Errorf("finish activation: %w", cerr)
	}
	c, pk, err := s.verifyRegistration(ctx, ceremonyID, kind, response)
	if err != nil {
		return Activation{}, fmt.Errorf("finish activation: %w", err)
	}
	pk.Name = name
	now := s.now()
	var id store.Identity
	err = s.update(ctx, func(tx store.EnrollmentTx) error {
		if err := tx.DeleteCeremony(c.ID); err != nil {
			return ErrCeremony
		}
		var err error
		if id, err = tx.Identity(c.NationalID); err != nil {
			return err
		}
		switch {
		case id.ID != c.IdentityID || !bytes.Equal(id.CodeHash, c.CodeHash) || id.CodeUsed || id.CodeLocked || !now.Before(id.CodeExpires):
			return ErrBadCode
		case hasPasskey(id, pk.ID):
			return fmt.Errorf("%w: passkey already registered", ErrWebAuthn)
		}
		id.CodeUsed, id.UpdatedAt = true, now
		action := "activate-passkey"
		if kind == ceremonyAddDevice {
			for i := range id.Credentials {
				if !id.Credentials[i].Disabled {
					id.Credentials[i].Disabled, id.Credentials[i].DisabledAt, id.Credentials[i].DisabledBy = true, now, "re-proofing"
				}
			}
			action = "device-add-reproofed"
		} else {
			id.State = store.IdentityActivating
		}
		id.Credentials = append(id.Credentials, pk)
		if id, err = tx.PutIdentity(id); err != nil {
			return err
		}
		return tx.AppendEvent(store.Event{At: now, Actor: "citizen:" + id.NationalID, Action: action, Subject: identitySubject(id.NationalID), Detail: name})
	})
	if err != nil {
		return Activation{}, fmt.Errorf("finish activation: %w", err)
	}
	if kind == ceremonyAddDevice {
		return Activation{Identity: fullView(id, nil)}, nil
	}
	return s.issue(ctx, id)
}

func hasPasskey(id store.Identity, cred []byte) bool {
	for _, c := range id.Credentials {
		if bytes.Equal(c.ID, cred) {
			return true
		}
	}
	return false
}
