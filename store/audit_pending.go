package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Enrollment events pending audit: an event appended with an AuditID is
// also kept here, written in its own transaction, until a catch-up has
// checked that the audit log holds its copy. Keys sort by the event's time.

func auditPendingKey(e Event) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(e.At.UnixNano()))
	return append(k, e.AuditID...)
}

// maxPendingAudit bounds one page of pending events.
const maxPendingAudit = 1000

// PendingAuditEvents returns up to limit (1 to 1000) enrollment events
// still pending audit whose time is before before, oldest first.
func (s *Bolt) PendingAuditEvents(ctx context.Context, before time.Time, limit int) ([]Event, error) {
	limit = max(1, min(limit, maxPendingAudit))
	end := binary.BigEndian.AppendUint64(nil, uint64(before.UnixNano()))
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAuditPend)
		if b == nil {
			return nil
		}
		cur := b.Cursor()
		for k, v := cur.First(); k != nil && len(out) < limit && bytes.Compare(k, end) < 0; k, v = cur.Next() {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("event %x: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pending audit events: %w", err)
	}
	return out, nil
}

// ClearPendingAuditEvents removes events (as PendingAuditEvents returned
// them) from the pending audit; absent ones are ignored.
func (s *Bolt) ClearPendingAuditEvents(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAuditPend)
		if b == nil {
			return nil
		}
		for _, e := range events {
			if err := b.Delete(auditPendingKey(e)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("clear pending audit events: %w", err)
	}
	return nil
}

// PendingAuditEvents implements the same method of [Bolt].
func (s *Postgres) PendingAuditEvents(ctx context.Context, before time.Time, limit int) ([]Event, error) {
	limit = max(1, min(limit, maxPendingAudit))
	rows, err := s.pool.Query(ctx, "SELECT doc FROM enr_audit_pending WHERE at < $1 ORDER BY at, id LIMIT $2", before, limit)
	if err != nil {
		return nil, fmt.Errorf("pending audit events: %w", err)
	}
	out, err := collectDocs[Event](rows)
	if err != nil {
		return nil, fmt.Errorf("pending audit events: %w", err)
	}
	return out, nil
}

// ClearPendingAuditEvents implements the same method of [Bolt].
func (s *Postgres) ClearPendingAuditEvents(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.AuditID
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM enr_audit_pending WHERE id = ANY($1)", ids); err != nil {
		return fmt.Errorf("clear pending audit events: %w", err)
	}
	return nil
}
