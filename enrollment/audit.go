package enrollment

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

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
		return fn(&auditingTx{EnrollmentTx: tx, events: &events, pending: s.opts.Audit != nil})
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

// auditingTx records the events appended through it, pseudonymised. With
// pending set, it gives each event an AuditID, so that the store keeps it
// as pending audit in the same transaction (see [Service.CatchUpAudit]).
type auditingTx struct {
	store.EnrollmentTx
	events  *[]audit.Event
	pending bool
}

func (t *auditingTx) AppendEvent(e store.Event) error {
	if t.pending && e.AuditID == "" {
		e.AuditID = newAuditID()
	}
	if err := t.EnrollmentTx.AppendEvent(e); err != nil {
		return err
	}
	*t.events = append(*t.events, auditCopy(e, t.pseudonym(e.Actor), t.pseudonym(e.Subject)))
	return nil
}

// newAuditID returns a unique event ID that sorts by creation time, so
// that the store's indexes of pending events and of audit sources grow at
// their end (fewer pages written per commit than random keys).
func newAuditID() string {
	return fmt.Sprintf("%016x", uint64(time.Now().UnixNano())) + rand.Text()[:10]
}

// auditCopy is the audit log's copy of e, with actor and subject
// pseudonymised.
func auditCopy(e store.Event, actor, subject string) audit.Event {
	a := audit.Event{Actor: actor, Action: "enrollment." + e.Action, Subject: subject, Details: e}
	if e.AuditID != "" {
		a.Source = eventSourcePrefix + e.AuditID
	}
	return a
}

// eventSourcePrefix starts the audit Source of an enrollment event.
const eventSourcePrefix = "enrollment.event:"

// pseudonym replaces a national number in "identity:<nid>" or
// "citizen:<nid>" with the identity's internal ID ("unknown" when no
// identity has that number yet); other names pass unchanged.
func (t *auditingTx) pseudonym(name string) string { return pseudonym(t, name) }

func pseudonym(t store.EnrollmentTx, name string) string {
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

// pendingAudit is what CatchUpAudit needs from the store beyond Store;
// store.Bolt and store.Postgres have it.
type pendingAudit interface {
	PendingAuditEvents(ctx context.Context, before time.Time, limit int) ([]store.Event, error)
	ClearPendingAuditEvents(ctx context.Context, events []store.Event) error
}

// recorder is what CatchUpAudit needs from the Auditor beyond Append;
// *audit.Log has it.
type recorder interface {
	Recorded(ctx context.Context, sources []string) (map[string]uint64, error)
}

// ErrNoCatchUp: the store or the auditor cannot tell which events are
// missing from the audit log.
var ErrNoCatchUp = errors.New("enrollment: the store or audit log cannot catch up")

// CatchUpAudit makes the audit log complete after a crash. Every event
// recorded with an audit log configured is kept by the store as pending
// audit, in the transaction that records it, until a catch-up has checked
// that the log holds its copy; the copy names the event (Source), and the
// log never holds two copies of one event. CatchUpAudit goes through the
// pending events older than grace (grace leaves alone the events whose
// own copy is being appended right now; 0 at start-up), appends the copies
// that are missing, and then forgets the events. It reports how many
// copies it appended. Several replicas may run it at once: the log
// refuses a second copy, and forgetting an event twice is harmless. An
// event whose copy the log refuses as malformed (audit.ErrBadEvent, as
// when it was recorded) is forgotten without a copy.
func (s *Service) CatchUpAudit(ctx context.Context, grace time.Duration) (int, error) {
	if s.opts.Audit == nil {
		return 0, nil
	}
	ps, ok := s.st.(pendingAudit)
	rec, ok2 := s.opts.Audit.(recorder)
	if !ok || !ok2 {
		return 0, ErrNoCatchUp
	}
	before := s.now().Add(-grace)
	if grace <= 0 {
		before = time.Unix(0, math.MaxInt64) // every pending event, whatever the clock says
	}
	appended := 0
	for {
		events, err := ps.PendingAuditEvents(ctx, before, 500)
		if err != nil || len(events) == 0 {
			return appended, err
		}
		sources := make([]string, len(events))
		for i, e := range events {
			sources[i] = eventSourcePrefix + e.AuditID
		}
		have, err := rec.Recorded(ctx, sources)
		if err != nil {
			return appended, fmt.Errorf("audit catch-up: %w", err)
		}
		var missing []audit.Event
		err = s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
			for i, e := range events {
				if _, ok := have[sources[i]]; !ok {
					missing = append(missing, auditCopy(e, pseudonym(tx, e.Actor), pseudonym(tx, e.Subject)))
				}
			}
			return nil
		})
		if err != nil {
			return appended, fmt.Errorf("audit catch-up: %w", err)
		}
		// An event the log refuses as malformed was refused when it was
		// recorded too; it is passed over, or it would stop every start-up.
		bad, err := s.auditEach(ctx, missing, true)
		if err != nil {
			return appended, fmt.Errorf("audit catch-up: %w", err)
		}
		appended += len(missing) - bad
		if err := ps.ClearPendingAuditEvents(ctx, events); err != nil {
			return appended, err
		}
		if len(events) < 500 {
			return appended, nil
		}
	}
}

// AuditName returns name as the audit log's leaves name it: a national
// number in "identity:<nid>" or "citizen:<nid>" is replaced by the
// identity's internal ID ("unknown" when no identity has that number).
// Other services copying their own stored records into the log after a
// crash (signing's catch-up) use it.
func (s *Service) AuditName(ctx context.Context, name string) (string, error) {
	var out string
	err := s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
		out = pseudonym(tx, name)
		return nil
	})
	return out, err
}
