package signing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/enrollment"
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
	var k AgencyKey
	var kept *audit.Event
	err := s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		a, err := findAgency(tx, agency)
		if err != nil {
			return err
		}
		if k, err = s.rotateKey(tx, a.ID); err != nil {
			return err
		}
		kept, err = s.keepAudit(tx, agencySource, agencyEvent(by, "agency.key-rotated", k.Agency, nil))
		return err
	})
	if err != nil {
		return fail(err)
	}
	if err := s.appendKept(ctx, kept); err != nil {
		return fail(err)
	}
	k.Agency.KeyHash, k.Agency.WebhookSecret = nil, nil
	return k, nil
}

// rotateKey gives agency id a fresh API key within tx.
func (s *Service) rotateKey(tx store.SigningTx, id string) (AgencyKey, error) {
	a, err := tx.Agency(id)
	if err != nil {
		return AgencyKey{}, err
	}
	secret, err := s.randomID(32)
	if err != nil {
		return AgencyKey{}, err
	}
	k := AgencyKey{Key: apiKeyPrefix + a.ID + "_" + secret}
	a.KeyHash = keyHash(k.Key)
	k.Agency = a
	return k, tx.PutAgency(a)
}

// DisableAgency is SetAgencyDisabled for an administrator on the web, who
// gives a reason. Disabling stops a leaked or misused credential at once,
// so it needs no second administrator; it is audited with the reason.
func (s *Service) DisableAgency(ctx context.Context, by enrollment.Principal, id string, disabled bool, why string) (store.Agency, error) {
	actor, err := adminActor(by)
	if err != nil {
		return store.Agency{}, fmt.Errorf("disable agency: %w", err)
	}
	if strings.TrimSpace(why) == "" || len(why) > 500 {
		return store.Agency{}, fmt.Errorf("disable agency: %w: a reason (1-500 bytes) is required", ErrInvalid)
	}
	if id == "" {
		return store.Agency{}, fmt.Errorf("disable agency: %w", ErrNotFound)
	}
	return s.setDisabled(ctx, func(tx store.SigningTx) (store.Agency, error) {
		a, err := tx.Agency(id)
		if errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("%w: no agency %q", ErrNotFound, id)
		}
		return a, err
	}, disabled, actor, map[string]any{"why": why})
}

// SetAgencyDisabled disables an agency (ID or name), so that neither its
// API key nor its certificate authenticates it any more, or enables it
// again. by names who asked, for the audit log.
func (s *Service) SetAgencyDisabled(ctx context.Context, agency string, disabled bool, by string) (store.Agency, error) {
	if strings.TrimSpace(by) == "" {
		return store.Agency{}, fmt.Errorf("disable agency: %w: who asks is required", ErrInvalid)
	}
	return s.setDisabled(ctx, func(tx store.SigningTx) (store.Agency, error) { return findAgency(tx, agency) }, disabled, by, nil)
}

// setDisabled sets the Disabled flag of the agency find returns, and
// audits the change.
func (s *Service) setDisabled(ctx context.Context, find func(store.SigningTx) (store.Agency, error), disabled bool, by string, details map[string]any) (store.Agency, error) {
	fail := func(err error) (store.Agency, error) { return store.Agency{}, fmt.Errorf("disable agency: %w", err) }
	action := "agency.enabled"
	if disabled {
		action = "agency.disabled"
	}
	var a store.Agency
	var kept *audit.Event
	err := s.st.SigningUpdate(ctx, func(tx store.SigningTx) (err error) {
		if a, err = find(tx); err != nil {
			return err
		}
		a.Disabled = disabled
		if err := tx.PutAgency(a); err != nil {
			return err
		}
		kept, err = s.keepAudit(tx, agencySource, agencyEvent(by, action, a, details))
		return err
	})
	if err != nil {
		return fail(err)
	}
	if err := s.appendKept(ctx, kept); err != nil {
		return fail(err)
	}
	a.KeyHash, a.WebhookSecret = nil, nil
	return a, nil
}

// agencyEvent is the audit record of a change of an agency's
// credentials. It names the agency and the key's fingerprint, never the
// key.
func agencyEvent(by, action string, a store.Agency, more map[string]any) audit.Event {
	details := map[string]any{"name": a.Name, "key_fingerprint": EncodeKeyHash(a)}
	for k, v := range more {
		details[k] = v
	}
	return audit.Event{Actor: by, Action: action, Subject: "agency:" + a.ID, Details: details}
}

// keepAudit keeps the audit record ev of a change made in tx pending
// audit in tx, under a fresh source (prefix + a random ID) unless ev has
// one, and returns ev with its source; nil without an audit log. The
// change's append after the commit is appendKept; a crash in between is
// caught up by the node (audit.Log.CatchUp), once.
func (s *Service) keepAudit(tx store.SigningTx, prefix string, ev audit.Event) (*audit.Event, error) {
	if s.opts.Audit == nil {
		return nil, nil
	}
	if ev.Source == "" {
		id, err := s.randomID(12)
		if err != nil {
			return nil, err
		}
		ev.Source = prefix + id
	}
	p := store.PendingAudit{Source: ev.Source, At: s.now(), Actor: ev.Actor, Action: ev.Action, Subject: ev.Subject}
	if ev.Details != nil {
		d, err := json.Marshal(ev.Details)
		if err != nil {
			return nil, fmt.Errorf("audit %s: %w", ev.Action, err)
		}
		p.Details = d
	}
	if err := tx.PutPendingAudit(p); err != nil {
		return nil, err
	}
	return &ev, nil
}

// appendKept appends a record keepAudit kept (nil: none).
func (s *Service) appendKept(ctx context.Context, ev *audit.Event) error {
	if ev == nil {
		return nil
	}
	if _, err := s.opts.Audit.Append(ctx, *ev); err != nil {
		return fmt.Errorf("audit %s: %w", ev.Action, err)
	}
	return nil
}

// agencySource starts the audit source of a change of an agency.
const agencySource = "signing.agency:"
