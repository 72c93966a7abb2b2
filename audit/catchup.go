package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/thiqa/thiqa/store"
)

// PendingStore keeps, in the transaction of each change it stores, the
// full audit record of the change ([store.PendingAudit]) until a catch-up
// has checked that the log holds it; *store.Bolt and *store.Postgres have
// it. The platform modules (payments, service requests) use it: their
// records are appended after the store commit, so a crash between the two
// would lose them.
type PendingStore interface {
	PendingAudits(ctx context.Context, before time.Time, limit int) ([]store.PendingAudit, error)
	ClearPendingAudits(ctx context.Context, records []store.PendingAudit) error
}

// PendingEvent is the Event of a pending record: what its change appends
// right after the commit, and what [Log.CatchUp] appends if it is missing.
func PendingEvent(p store.PendingAudit) Event {
	e := Event{Actor: p.Actor, Action: p.Action, Subject: p.Subject, Source: p.Source}
	if len(p.Details) > 0 {
		e.Details = p.Details
	}
	return e
}

// Pending is e as a record to keep pending audit in the transaction of
// the change it records, at time at; e needs a Source.
func Pending(e Event, at time.Time) (store.PendingAudit, error) {
	if e.Source == "" {
		return store.PendingAudit{}, fmt.Errorf("%w: a pending record needs a source", ErrBadEvent)
	}
	p := store.PendingAudit{Source: e.Source, At: at, Actor: e.Actor, Action: e.Action, Subject: e.Subject}
	if e.Details != nil {
		d, err := json.Marshal(e.Details)
		if err != nil {
			return p, fmt.Errorf("%w: details: %w", ErrBadEvent, err)
		}
		p.Details = d
	}
	return p, nil
}

// CatchUp appends the pending records of st older than grace (0: all of
// them, as at start-up; grace leaves alone the records whose own append
// may be under way) that the log lacks, then forgets them. It reports how
// many it appended. Several replicas may run it at once: the log holds at
// most one record per source. A record the log refuses as malformed
// (ErrBadEvent, as when its change was made) is forgotten without a copy.
func (l *Log) CatchUp(ctx context.Context, st PendingStore, grace time.Duration) (int, error) {
	before := l.opts.Clock().Add(-grace)
	if grace <= 0 {
		before = time.Unix(0, math.MaxInt64)
	}
	const page = 500
	appended := 0
	for {
		pending, err := st.PendingAudits(ctx, before, page)
		if err != nil || len(pending) == 0 {
			return appended, err
		}
		sources := make([]string, len(pending))
		for i, p := range pending {
			sources[i] = p.Source
		}
		have, err := l.Recorded(ctx, sources)
		if err != nil {
			return appended, fmt.Errorf("audit catch-up: %w", err)
		}
		for _, p := range pending {
			if _, ok := have[p.Source]; ok {
				continue
			}
			_, err := l.Append(ctx, PendingEvent(p))
			if errors.Is(err, ErrBadEvent) {
				continue
			}
			if err != nil {
				return appended, fmt.Errorf("audit catch-up: %s: %w", p.Source, err)
			}
			appended++
		}
		if err := st.ClearPendingAudits(ctx, pending); err != nil {
			return appended, err
		}
		if len(pending) < page {
			return appended, nil
		}
	}
}
