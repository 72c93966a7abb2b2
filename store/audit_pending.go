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

// pendingBefore returns up to limit (1 to maxPendingAudit) JSON values of
// the pending-audit bucket name whose keys, which start with a big-endian
// UnixNano time, sort before before: the oldest first.
func pendingBefore[T any](db *bolt.DB, name []byte, before time.Time, limit int) ([]T, error) {
	limit = max(1, min(limit, maxPendingAudit))
	end := binary.BigEndian.AppendUint64(nil, uint64(before.UnixNano()))
	var out []T
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(name)
		if b == nil {
			return nil
		}
		cur := b.Cursor()
		for k, v := cur.First(); k != nil && len(out) < limit && bytes.Compare(k, end) < 0; k, v = cur.Next() {
			var t T
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("pending %x: %w", k, err)
			}
			out = append(out, t)
		}
		return nil
	})
	return out, err
}

// clearPending deletes the keys of items from the pending-audit bucket
// name; absent ones are ignored.
func clearPending[T any](db *bolt.DB, name []byte, items []T, key func(T) []byte) error {
	if len(items) == 0 {
		return nil
	}
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(name)
		if b == nil {
			return nil
		}
		for _, it := range items {
			if err := b.Delete(key(it)); err != nil {
				return err
			}
		}
		return nil
	})
}

// PendingAuditEvents returns up to limit (1 to 1000) enrollment events
// still pending audit whose time is before before, oldest first.
func (s *Bolt) PendingAuditEvents(ctx context.Context, before time.Time, limit int) ([]Event, error) {
	out, err := pendingBefore[Event](s.db, bucketAuditPend, before, limit)
	if err != nil {
		return nil, fmt.Errorf("pending audit events: %w", err)
	}
	return out, nil
}

// ClearPendingAuditEvents removes events (as PendingAuditEvents returned
// them) from the pending audit; absent ones are ignored.
func (s *Bolt) ClearPendingAuditEvents(ctx context.Context, events []Event) error {
	if err := clearPending(s.db, bucketAuditPend, events, auditPendingKey); err != nil {
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

// Signature evidence pending audit: every evidence is also marked pending
// in its own transaction, until a catch-up has checked that the audit log
// holds its copy. Keys sort by the signature's time.

func evidencePendingKey(e SignEvidence) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(e.At.UnixNano()))
	return append(append(append(k, e.RequestID...), 0), e.ID...)
}

// PendingAuditEvidence returns up to limit (1 to 1000) signature evidence
// records still pending audit whose time is before before, oldest first.
func (s *Bolt) PendingAuditEvidence(ctx context.Context, before time.Time, limit int) ([]SignEvidence, error) {
	limit = max(1, min(limit, maxPendingAudit))
	end := binary.BigEndian.AppendUint64(nil, uint64(before.UnixNano()))
	var out []SignEvidence
	err := s.db.View(func(tx *bolt.Tx) error {
		b, ev := tx.Bucket(bucketSignAuditPnd), tx.Bucket(bucketSignEvidence)
		if b == nil || ev == nil {
			return nil
		}
		cur := b.Cursor()
		for k, _ := cur.First(); k != nil && len(out) < limit && bytes.Compare(k, end) < 0; k, _ = cur.Next() {
			if len(k) < 8 {
				return fmt.Errorf("malformed pending key %x", k)
			}
			var e SignEvidence
			if err := getJSON(ev, string(k[8:]), &e); err != nil {
				return fmt.Errorf("evidence %q: %w", k[8:], err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pending audit evidence: %w", err)
	}
	return out, nil
}

// ClearPendingAuditEvidence removes evidence (as PendingAuditEvidence
// returned it) from the pending audit; absent ones are ignored.
func (s *Bolt) ClearPendingAuditEvidence(ctx context.Context, evidence []SignEvidence) error {
	if err := clearPending(s.db, bucketSignAuditPnd, evidence, evidencePendingKey); err != nil {
		return fmt.Errorf("clear pending audit evidence: %w", err)
	}
	return nil
}

// PendingAuditEvidence implements the same method of [Bolt].
func (s *Postgres) PendingAuditEvidence(ctx context.Context, before time.Time, limit int) ([]SignEvidence, error) {
	limit = max(1, min(limit, maxPendingAudit))
	rows, err := s.pool.Query(ctx, `SELECT e.doc FROM sig_audit_pending p JOIN sig_evidence e ON e.request_id = p.request_id AND e.id = p.id
		WHERE p.at < $1 ORDER BY p.at, p.request_id, p.id LIMIT $2`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("pending audit evidence: %w", err)
	}
	out, err := collectDocs[SignEvidence](rows)
	if err != nil {
		return nil, fmt.Errorf("pending audit evidence: %w", err)
	}
	return out, nil
}

// ClearPendingAuditEvidence implements the same method of [Bolt].
func (s *Postgres) ClearPendingAuditEvidence(ctx context.Context, evidence []SignEvidence) error {
	if len(evidence) == 0 {
		return nil
	}
	reqs, ids := make([]string, len(evidence)), make([]string, len(evidence))
	for i, e := range evidence {
		reqs[i], ids[i] = e.RequestID, e.ID
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM sig_audit_pending p USING unnest($1::text[], $2::text[]) AS q(request_id, id)
		WHERE p.request_id = q.request_id AND p.id = q.id`, reqs, ids); err != nil {
		return fmt.Errorf("clear pending audit evidence: %w", err)
	}
	return nil
}
