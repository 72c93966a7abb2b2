package signing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/store"
)

// findAgency finds an agency by ID, or else by name.
func findAgency(tx store.SigningTx, agency string) (store.Agency, error) {
	a, err := tx.Agency(agency)
	if errors.Is(err, store.ErrNotFound) {
		a, err = tx.AgencyByName(agency)
	}
	if errors.Is(err, store.ErrNotFound) {
		return a, fmt.Errorf("%w: no agency %q", ErrNotFound, agency)
	}
	return a, err
}

// RotateAgencyKey gives the agency (ID or name) a fresh API key, returned
// once, and forgets the old one: from the moment it returns, the old key
// is refused. The webhook secret and mutual TLS certificate stay. It is
// the operator's answer to a leaked key; by names who asked, for the
// audit log.
func (s *Service) RotateAgencyKey(ctx context.Context, agency, by string) (AgencyKey, error) {
	fail := func(err error) (AgencyKey, error) { return AgencyKey{}, fmt.Errorf("rotate agency key: %w", err) }
	if strings.TrimSpace(by) == "" {
		return fail(fmt.Errorf("%w: who asks is required", ErrInvalid))
	}
	secret, err := s.randomID(32)
	if err != nil {
		return fail(err)
	}
	var k AgencyKey
	err = s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		a, err := findAgency(tx, agency)
		if err != nil {
			return err
		}
		k.Key = apiKeyPrefix + a.ID + "_" + secret
		a.KeyHash = keyHash(k.Key)
		k.Agency = a
		return tx.PutAgency(a)
	})
	if err != nil {
		return fail(err)
	}
	if err := s.auditAgency(ctx, by, "agency.key-rotated", k.Agency); err != nil {
		return fail(err)
	}
	k.Agency.KeyHash, k.Agency.WebhookSecret = nil, nil
	return k, nil
}

// SetAgencyDisabled disables an agency (ID or name), so that neither its
// API key nor its certificate authenticates it any more, or enables it
// again. by names who asked, for the audit log.
func (s *Service) SetAgencyDisabled(ctx context.Context, agency string, disabled bool, by string) (store.Agency, error) {
	fail := func(err error) (store.Agency, error) { return store.Agency{}, fmt.Errorf("disable agency: %w", err) }
	if strings.TrimSpace(by) == "" {
		return fail(fmt.Errorf("%w: who asks is required", ErrInvalid))
	}
	var a store.Agency
	err := s.st.SigningUpdate(ctx, func(tx store.SigningTx) (err error) {
		if a, err = findAgency(tx, agency); err != nil {
			return err
		}
		a.Disabled = disabled
		return tx.PutAgency(a)
	})
	if err != nil {
		return fail(err)
	}
	action := "agency.enabled"
	if disabled {
		action = "agency.disabled"
	}
	if err := s.auditAgency(ctx, by, action, a); err != nil {
		return fail(err)
	}
	a.KeyHash, a.WebhookSecret = nil, nil
	return a, nil
}

// auditAgency records a change of an agency's credentials when there is
// an audit log. The record names the agency and the key's fingerprint,
// never the key.
func (s *Service) auditAgency(ctx context.Context, by, action string, a store.Agency) error {
	if s.opts.Audit == nil {
		return nil
	}
	_, err := s.opts.Audit.Append(ctx, audit.Event{Actor: by, Action: action, Subject: "agency:" + a.ID,
		Details: map[string]any{"name": a.Name, "key_fingerprint": EncodeKeyHash(a)}})
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}
