package node

import (
	"context"
	"fmt"
	"time"

	"github.com/thiqa/thiqa/audit"
)

// CatchUpAudit appends to the audit log the records that a crash between
// a store commit and its audit append kept from it: those of enrollment
// events, of signatures, of certificate issuance, hold, release and
// revocation, and the records kept pending in full with their changes
// (payments, refunds, service-request transitions, agency changes,
// signing recovery, webhook failures, the key ceremony, OpenID sign-ins),
// older than grace (0: all, as at start-up).
// Replicas may run it at once; no record is appended twice.
func (n *Node) CatchUpAudit(ctx context.Context, grace time.Duration) error {
	if ps, ok := n.Store.(audit.PendingStore); ok {
		if _, err := n.Audit.CatchUp(ctx, ps, grace); err != nil {
			return fmt.Errorf("audit catch-up: platform: %w", err)
		}
	}
	if _, err := n.CA.CatchUpAudit(ctx, grace); err != nil {
		return fmt.Errorf("audit catch-up: ca: %w", err)
	}
	if _, err := n.Enrollment.CatchUpAudit(ctx, grace); err != nil {
		return fmt.Errorf("audit catch-up: enrollment: %w", err)
	}
	if _, err := n.Signing.CatchUpAudit(ctx, grace); err != nil {
		return fmt.Errorf("audit catch-up: signing: %w", err)
	}
	return nil
}

// RunAuditCatchUp runs CatchUpAudit every interval, with a grace of one
// interval (leaving alone the records whose own append is under way),
// until ctx ends, reporting errors to onErr.
func (n *Node) RunAuditCatchUp(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := n.CatchUpAudit(ctx, interval); err != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}
