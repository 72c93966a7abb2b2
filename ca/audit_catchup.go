package ca

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/store"
)

// changeSourcePrefix starts the audit Source of a certificate change's
// record: "ca.certificate:<serial>/<version>".
const changeSourcePrefix = "ca.certificate:"

// pendingAudit returns the pending audit of a change about to be stored,
// nil without an auditor.
func (s *Service) pendingAudit(ctx context.Context, at time.Time, action string, details map[string]string) *store.CertAudit {
	if s.opts.Audit == nil {
		return nil
	}
	return &store.CertAudit{At: at, Actor: actorOf(ctx), Action: action, Details: details}
}

// changeEvent is the audit log's record of a stored certificate change.
func changeEvent(a store.CertAudit) audit.Event {
	return audit.Event{Actor: a.Actor, Action: a.Action, Subject: a.Serial, Details: a.Details,
		Source: changeSourcePrefix + a.Serial + "/" + strconv.FormatInt(a.Version, 10)}
}

// recordChange appends the audit record of a stored change (nil: no
// auditor). A failure is returned to the caller: an operation whose
// record is not durable is not reported done (the record is appended by
// the next catch-up).
func (s *Service) recordChange(ctx context.Context, a *store.CertAudit) error {
	if s.opts.Audit == nil || a == nil {
		return nil
	}
	if _, err := s.opts.Audit.Append(ctx, changeEvent(*a)); err != nil {
		return fmt.Errorf("audit %s %s: %w", a.Action, a.Serial, err)
	}
	return nil
}

// pendingStore is what CatchUpAudit needs from the store beyond Store;
// store.Bolt and store.Postgres have it.
type pendingStore interface {
	PendingCertAudits(ctx context.Context, before time.Time, limit int) ([]store.CertAudit, error)
	ClearPendingCertAudits(ctx context.Context, changes []store.CertAudit) error
}

// recorder is what CatchUpAudit needs from the Auditor beyond Append;
// *audit.Log has it.
type recorder interface {
	Recorded(ctx context.Context, sources []string) (map[string]uint64, error)
}

// ErrNoCatchUp: the store or the auditor cannot tell which certificate
// changes are missing from the audit log.
var ErrNoCatchUp = errors.New("ca: the store or audit log cannot catch up")

// CatchUpAudit makes the audit log complete after a crash between a
// certificate change's commit (issuance, hold, release, revocation) and
// its audit append. With an auditor configured, every change is kept
// pending audit by the store in the change's own transaction;
// CatchUpAudit goes through the changes older than grace (0: all of them,
// as at start-up), appends the records missing from the log (each names
// its change, so the log never holds two, even with replicas catching up
// at once) and forgets the changes. It reports how many it appended.
func (s *Service) CatchUpAudit(ctx context.Context, grace time.Duration) (int, error) {
	if s.opts.Audit == nil {
		return 0, nil
	}
	ps, ok := s.store.(pendingStore)
	rec, ok2 := s.opts.Audit.(recorder)
	if !ok || !ok2 {
		return 0, ErrNoCatchUp
	}
	before := s.opts.now().Add(-grace)
	if grace <= 0 {
		before = time.Unix(0, math.MaxInt64) // every pending change, whatever the clock says
	}
	const page = 500
	appended := 0
	for {
		changes, err := ps.PendingCertAudits(ctx, before, page)
		if err != nil || len(changes) == 0 {
			return appended, err
		}
		sources := make([]string, len(changes))
		for i, a := range changes {
			sources[i] = changeEvent(a).Source
		}
		have, err := rec.Recorded(ctx, sources)
		if err != nil {
			return appended, fmt.Errorf("audit catch-up: %w", err)
		}
		for i, a := range changes {
			if _, ok := have[sources[i]]; ok {
				continue
			}
			_, err := s.opts.Audit.Append(ctx, changeEvent(a))
			if errors.Is(err, audit.ErrBadEvent) {
				continue // refused when it was made too; retrying would stop every start-up
			}
			if err != nil {
				return appended, fmt.Errorf("audit catch-up: certificate %s: %w", a.Serial, err)
			}
			appended++
		}
		if err := ps.ClearPendingCertAudits(ctx, changes); err != nil {
			return appended, err
		}
		if len(changes) < page {
			return appended, nil
		}
	}
}
