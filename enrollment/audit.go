package enrollment

import (
	"context"
	"fmt"
	"strings"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/store"
)

// Auditor records security events in the tamper-evident audit log
// (package audit's *Log).
type Auditor interface {
	Append(ctx context.Context, e audit.Event) (audit.Receipt, error)
}

// update runs fn in one store transaction and, once it has committed,
// copies every event fn recorded into the audit log before returning, so
// that an operation reported done has its audit record durably stored.
//
// The audit log's leaves must hold no personal data, while the
// registration records name citizens by national number: the copy names
// them by their identity's internal ID ("identity:<id>", "citizen:<id>"),
// and the full event, national number included, goes into the audit
// record's details, which are kept apart and purged after their retention
// period.
func (s *Service) update(ctx context.Context, fn func(store.EnrollmentTx) error) error {
	var events []audit.Event
	err := s.st.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
		events = events[:0] // the store may run fn again after a failed batch
		return fn(&auditingTx{EnrollmentTx: tx, events: &events})
	})
	if err != nil || s.opts.Audit == nil {
		return err
	}
	for _, e := range events {
		if _, err := s.opts.Audit.Append(ctx, e); err != nil {
			return fmt.Errorf("audit %s: %w", e.Action, err)
		}
	}
	return nil
}

// auditingTx records the events appended through it, pseudonymised.
type auditingTx struct {
	store.EnrollmentTx
	events *[]audit.Event
}

func (t *auditingTx) AppendEvent(e store.Event) error {
	if err := t.EnrollmentTx.AppendEvent(e); err != nil {
		return err
	}
	*t.events = append(*t.events, audit.Event{
		Actor:   t.pseudonym(e.Actor),
		Action:  "enrollment." + e.Action,
		Subject: t.pseudonym(e.Subject),
		Details: e,
	})
	return nil
}

// pseudonym replaces a national number in "identity:<nid>" or
// "citizen:<nid>" with the identity's internal ID ("unknown" when no
// identity has that number yet); other names pass unchanged.
func (t *auditingTx) pseudonym(name string) string {
	kind, nid, ok := strings.Cut(name, ":")
	if !ok || (kind != "identity" && kind != "citizen") {
		return name
	}
	id, err := t.Identity(nid)
	if err != nil || id.ID == "" {
		return kind + ":unknown"
	}
	return kind + ":" + id.ID
}
