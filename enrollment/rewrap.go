package enrollment

import (
	"bytes"
	"context"
	"fmt"

	"github.com/thiqa/thiqa/store"
)

// Rewrapper moves what key custody protected under an older
// key-encryption key to the current one. Each call reports moved false
// when the input is under the current key already, so that a rotation
// stopped part way is resumed by running it again.
type Rewrapper interface {
	// RewrapKey re-wraps a citizen's wrapped key bound to owner.
	RewrapKey(ctx context.Context, owner string, blob []byte) (out []byte, moved bool, err error)
	// ResealValue re-seals a value sealed for owner (an officer's TOTP
	// secret).
	ResealValue(ctx context.Context, owner string, sealed []byte) (out []byte, moved bool, err error)
}

// RewrapProgress counts what [Service.RewrapAll] has seen and moved.
type RewrapProgress struct {
	Identities, Keys, KeysMoved     int
	Officers, Secrets, SecretsMoved int
}

// rewrapPage is how many identities one transaction re-wraps.
const rewrapPage = 500

// RewrapAll passes every citizen's wrapped keys and every officer's sealed
// TOTP secret through rw, page by page in short transactions, storing what
// moved; progress is told after each page. Run it after custody has a new
// key-encryption key and before the old one is destroyed; a record changed
// by someone else meanwhile fails the page with a conflict (run it again).
// It ends with an event (and audit record) of what it did; only
// administrators may run it.
func (s *Service) RewrapAll(ctx context.Context, by Principal, rw Rewrapper, progress func(RewrapProgress)) (RewrapProgress, error) {
	var p RewrapProgress
	if !by.isAdmin() {
		return p, fmt.Errorf("rewrap: %w", ErrForbidden)
	}
	report := func() {
		if progress != nil {
			progress(p)
		}
	}
	for after := ""; ; {
		var page []store.Identity
		err := s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) {
			page, err = tx.IdentitiesAfter(after, rewrapPage)
			return err
		})
		if err != nil {
			return p, fmt.Errorf("rewrap: %w", err)
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].NationalID
		if err := s.rewrapIdentities(ctx, rw, page, &p); err != nil {
			return p, fmt.Errorf("rewrap: %w", err)
		}
		report()
	}
	for after := ""; ; {
		var page []store.Officer
		err := s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) {
			page, err = tx.OfficersAfter(after, rewrapPage)
			return err
		})
		if err != nil {
			return p, fmt.Errorf("rewrap: %w", err)
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Username
		if err := s.resealOfficers(ctx, rw, page, &p); err != nil {
			return p, fmt.Errorf("rewrap: %w", err)
		}
		report()
	}
	err := s.update(ctx, func(tx store.EnrollmentTx) error {
		return tx.AppendEvent(s.event(by, "keys-rewrap", "custody:kek", "",
			fmt.Sprintf("%d of %d citizen keys and %d of %d officer secrets moved to the current key-encryption key", p.KeysMoved, p.Keys, p.SecretsMoved, p.Secrets)))
	})
	if err != nil {
		return p, fmt.Errorf("rewrap: %w", err)
	}
	return p, nil
}

// rewrapIdentities re-wraps one page's keys outside any transaction, then
// stores the identities whose keys moved.
func (s *Service) rewrapIdentities(ctx context.Context, rw Rewrapper, page []store.Identity, p *RewrapProgress) error {
	var changed []store.Identity
	for _, id := range page {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.Identities++
		moved := false
		for _, blob := range []*[]byte{&id.SigningKey, &id.AuthKey} {
			if len(*blob) == 0 {
				continue
			}
			p.Keys++
			out, m, err := rw.RewrapKey(ctx, wrappedOwner(id.ID), *blob)
			if err != nil {
				return fmt.Errorf("identity %s: %w", id.ID, err)
			}
			if m {
				*blob, moved = out, true
				p.KeysMoved++
			}
		}
		if moved {
			changed = append(changed, id)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return s.st.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
		for _, id := range changed {
			if _, err := tx.PutIdentity(id); err != nil {
				return fmt.Errorf("identity %s: %w", id.ID, err)
			}
		}
		return nil
	})
}

func (s *Service) resealOfficers(ctx context.Context, rw Rewrapper, page []store.Officer, p *RewrapProgress) error {
	read := map[string][]byte{}
	var changed []store.Officer
	for _, o := range page {
		p.Officers++
		if len(o.TOTPSealed) == 0 {
			continue
		}
		p.Secrets++
		out, moved, err := rw.ResealValue(ctx, totpOwner(o.Username), o.TOTPSealed)
		if err != nil {
			return fmt.Errorf("officer %s: %w", o.Username, err)
		}
		if moved {
			read[o.Username] = o.TOTPSealed
			o.TOTPSealed = out
			changed = append(changed, o)
			p.SecretsMoved++
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return s.st.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
		for _, o := range changed {
			cur, err := tx.Officer(o.Username)
			if err != nil {
				return err
			}
			// PutOfficer has no version: refuse to overwrite a secret
			// changed since it was read.
			if !bytes.Equal(cur.TOTPSealed, read[o.Username]) {
				return fmt.Errorf("officer %s: %w", o.Username, store.ErrConflict)
			}
			cur.TOTPSealed = o.TOTPSealed
			if err := tx.PutOfficer(cur); err != nil {
				return err
			}
		}
		return nil
	})
}
