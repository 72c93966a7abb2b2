package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	bolt "go.etcd.io/bbolt"
)

// PendingAudit is an audit record, in full, that a change stored beside
// it may not have had appended yet: set on a record the platform modules
// store (an invoice's AuditPending, a service request's AuditPending), it
// is kept in the change's own transaction until a catch-up
// (audit.Log.CatchUp) has checked that the log holds a record of Source.
// Unlike enrollment events, signatures and certificate changes, these
// changes keep no other copy of what the record says.
type PendingAudit struct {
	Source  string          `json:"source"` // unique, as audit.Event.Source
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Subject string          `json:"subject"`
	Details json.RawMessage `json:"details,omitempty"`
}

// bucketAuditPendRec: at (unix ns) || source -> PendingAudit.
var bucketAuditPendRec = []byte("audit_pending_records")

func pendingRecordKey(p PendingAudit) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(p.At.UnixNano())), p.Source...)
}

func checkPendingAudit(p *PendingAudit) error {
	if p.Source == "" || p.Action == "" {
		return fmt.Errorf("pending audit record: source and action are required")
	}
	if p.At.IsZero() {
		p.At = time.Now().UTC()
	}
	return nil
}

// putPendingAudit keeps p (nil: nothing) in the bbolt transaction tx.
func putPendingAudit(tx *bolt.Tx, p *PendingAudit) error {
	if p == nil {
		return nil
	}
	if err := checkPendingAudit(p); err != nil {
		return err
	}
	b, err := tx.CreateBucketIfNotExists(bucketAuditPendRec)
	if err != nil {
		return err
	}
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return b.Put(pendingRecordKey(*p), v)
}

// insertPendingAudit keeps p (nil: nothing) in the PostgreSQL transaction
// tx.
func insertPendingAudit(ctx context.Context, tx pgx.Tx, p *PendingAudit) error {
	if p == nil {
		return nil
	}
	if err := checkPendingAudit(p); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "INSERT INTO audit_pending_records (source, at, doc) VALUES ($1, $2, $3) ON CONFLICT (source) DO NOTHING", p.Source, p.At, p)
	return err
}

// PendingAudits returns up to limit (1 to 1000) pending audit records
// whose time is before before, oldest first.
func (s *Bolt) PendingAudits(ctx context.Context, before time.Time, limit int) ([]PendingAudit, error) {
	out, err := pendingBefore[PendingAudit](s.db, bucketAuditPendRec, before, limit)
	if err != nil {
		return nil, fmt.Errorf("pending audit records: %w", err)
	}
	return out, nil
}

// ClearPendingAudits removes records (as PendingAudits returned them)
// from the pending audit; absent ones are ignored.
func (s *Bolt) ClearPendingAudits(ctx context.Context, records []PendingAudit) error {
	if err := clearPending(s.db, bucketAuditPendRec, records, pendingRecordKey); err != nil {
		return fmt.Errorf("clear pending audit records: %w", err)
	}
	return nil
}

// PendingAudits implements the same method of [Bolt].
func (s *Postgres) PendingAudits(ctx context.Context, before time.Time, limit int) ([]PendingAudit, error) {
	limit = max(1, min(limit, maxPendingAudit))
	rows, err := s.pool.Query(ctx, "SELECT doc FROM audit_pending_records WHERE at < $1 ORDER BY at, source LIMIT $2", before, limit)
	if err != nil {
		return nil, fmt.Errorf("pending audit records: %w", err)
	}
	out, err := collectDocs[PendingAudit](rows)
	if err != nil {
		return nil, fmt.Errorf("pending audit records: %w", err)
	}
	return out, nil
}

// ClearPendingAudits implements the same method of [Bolt].
func (s *Postgres) ClearPendingAudits(ctx context.Context, records []PendingAudit) error {
	if len(records) == 0 {
		return nil
	}
	sources := make([]string, len(records))
	for i, p := range records {
		sources[i] = p.Source
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM audit_pending_records WHERE source = ANY($1)", sources); err != nil {
		return fmt.Errorf("clear pending audit records: %w", err)
	}
	return nil
}

// PutPendingAudit implements [RequestsTx].
func (t *boltRequestsTx) PutPendingAudit(p PendingAudit) error { return putPendingAudit(t.tx, &p) }

// PutPendingAudit implements [RequestsTx].
func (t *pgRequestsTx) PutPendingAudit(p PendingAudit) error {
	return insertPendingAudit(t.ctx, t.tx, &p)
}

// PutPendingAudit implements [SigningTx].
func (t *boltSigningTx) PutPendingAudit(p PendingAudit) error { return putPendingAudit(t.tx, &p) }

// PutPendingAudit implements [SigningTx].
func (t *pgSigningTx) PutPendingAudit(p PendingAudit) error {
	return insertPendingAudit(t.ctx, t.tx, &p)
}
