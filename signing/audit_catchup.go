package signing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/store"
)

// evidenceSourcePrefix starts the audit Source of a signature's record.
const evidenceSourcePrefix = "signing.evidence:"

// signatureEvent is the audit log's copy of one signature's evidence.
func signatureEvent(actor string, e store.SignEvidence) audit.Event {
	return audit.Event{Actor: actor, Action: "signing.sign", Subject: fmt.Sprintf("sign-request:%s/%d", e.RequestID, e.Document),
		Details: e, Source: evidenceSourcePrefix + e.RequestID + "/" + e.ID}
}

// pendingAudit is what CatchUpAudit needs from the store beyond Store;
// store.Bolt and store.Postgres have it.
type pendingAudit interface {
	PendingAuditEvidence(ctx context.Context, before time.Time, limit int) ([]store.SignEvidence, error)
	ClearPendingAuditEvidence(ctx context.Context, evidence []store.SignEvidence) error
}

// recorder is what CatchUpAudit needs from the auditor beyond Append
// (*audit.Log has it), and namer from the approver (*enrollment.Service).
type (
	recorder interface {
		Recorded(ctx context.Context, sources []string) (map[string]uint64, error)
	}
	namer interface {
		AuditName(ctx context.Context, name string) (string, error)
	}
)

// ErrNoCatchUp: the store, audit log or approver cannot tell or name the
// signatures missing from the audit log.
var ErrNoCatchUp = errors.New("signing: the store, audit log or approver cannot catch up")

// CatchUpAudit makes the audit log complete after a crash between a
// signature's commit and its audit append. Every signature's evidence is
// kept pending audit by the store, in the transaction that stores it;
// CatchUpAudit goes through the evidence older than grace (0: all of it,
// at start-up), appends the records missing from the log (named by the
// evidence, so never twice, even with replicas catching up at once) and
// forgets the evidence's pending mark. It reports how many it appended.
func (s *Service) CatchUpAudit(ctx context.Context, grace time.Duration) (int, error) {
	if s.opts.Audit == nil {
		return 0, nil
	}
	ps, ok := s.st.(pendingAudit)
	rec, ok2 := s.opts.Audit.(recorder)
	nm, ok3 := s.ra.(namer)
	if !ok || !ok2 || !ok3 {
		return 0, ErrNoCatchUp
	}
	before := s.now().Add(-grace)
	if grace <= 0 {
		before = time.Unix(0, math.MaxInt64)
	}
	appended := 0
	for {
		evidence, err := ps.PendingAuditEvidence(ctx, before, 500)
		if err != nil || len(evidence) == 0 {
			return appended, err
		}
		sources := make([]string, len(evidence))
		for i, e := range evidence {
			sources[i] = signatureEvent("", e).Source
		}
		have, err := rec.Recorded(ctx, sources)
		if err != nil {
			return appended, fmt.Errorf("audit catch-up: %w", err)
		}
		for i, e := range evidence {
			if _, ok := have[sources[i]]; ok {
				continue
			}
			actor, err := nm.AuditName(ctx, "citizen:"+e.NationalID)
			if err != nil {
				return appended, fmt.Errorf("audit catch-up: %w", err)
			}
			_, err = s.opts.Audit.Append(ctx, signatureEvent(actor, e))
			if errors.Is(err, audit.ErrBadEvent) {
				continue // refused when it was made too; retrying would stop every start-up
			}
			if err != nil {
				return appended, fmt.Errorf("audit catch-up: signature %s: %w", e.ID, err)
			}
			appended++
		}
		if err := ps.ClearPendingAuditEvidence(ctx, evidence); err != nil {
			return appended, err
		}
		if len(evidence) < 500 {
			return appended, nil
		}
	}
}
