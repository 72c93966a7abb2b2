package node

import (
	"context"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/internal/metrics"
	"github.com/thiqa/thiqa/store"
)

// countedAudit is the audit log as the CA and the signing service see it:
// each event they record durably also counts in the node's metrics
// (signatures by PAdES level, certificates issued by profile, revocations
// and suspensions by reason). Counting where the event is recorded keeps
// the metrics to what was done and acknowledged, in one place, without the
// services knowing about Prometheus. Other methods are the log's own.
type countedAudit struct {
	*audit.Log
	m *metrics.Metrics
}

func (c *countedAudit) Append(ctx context.Context, e audit.Event) (audit.Receipt, error) {
	r, err := c.Log.Append(ctx, e)
	if err == nil {
		c.count(e)
	}
	return r, err
}

// count increments the metric e stands for, if any.
func (c *countedAudit) count(e audit.Event) {
	switch e.Action {
	case "signing.sign":
		if ev, ok := e.Details.(store.SignEvidence); ok && ev.Level != "" {
			c.m.Signatures.WithLabelValues(ev.Level).Inc()
		}
	case "ca.issue":
		if d, ok := e.Details.(map[string]string); ok && d["profile"] != "" {
			c.m.Issued.WithLabelValues(d["profile"]).Inc()
		}
	case "ca.revoke", "ca.hold":
		if d, ok := e.Details.(map[string]string); ok && d["reason"] != "" {
			c.m.Revoked.WithLabelValues(d["reason"]).Inc()
		}
	}
}
