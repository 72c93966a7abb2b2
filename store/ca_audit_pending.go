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

// CertAudit is a certificate change (issuance, hold, release, revocation)
// whose audit record may not have been appended yet. Set as a
// Certificate's AuditPending on InsertCertificate, or by UpdateCertificate's
// fn, it is kept in the change's own transaction until a catch-up has
// checked that the audit log holds the record (ca.Service.CatchUpAudit).
// Serial and Version (the certificate's version the change made) are
// filled in by the store and name the change.
type CertAudit struct {
	Serial  string            `json:"serial"`
	Version int64             `json:"version"`
	At      time.Time         `json:"at"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Details map[string]string `json:"details,omitempty"`
}

// bucketCAAuditPend: at (unix ns) || serial || 0 || version -> CertAudit.
var bucketCAAuditPend = []byte("ca_audit_pending")

func certAuditKey(a CertAudit) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(a.At.UnixNano()))
	k = append(append(k, a.Serial...), 0)
	return binary.BigEndian.AppendUint64(k, uint64(a.Version))
}

// pendingCertAudit fills in c's pending audit (if any) for the version
// being written and returns it, nil when there is none.
func pendingCertAudit(c *Certificate) *CertAudit {
	if c.AuditPending == nil {
		return nil
	}
	a := *c.AuditPending
	a.Serial, a.Version = c.Serial, c.Version
	if a.At.IsZero() {
		a.At = time.Now().UTC()
	}
	c.AuditPending = &a
	return &a
}

func putCertAudit(tx *bolt.Tx, c *Certificate) error {
	a := pendingCertAudit(c)
	if a == nil {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketCAAuditPend)
	if err != nil {
		return err
	}
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return b.Put(certAuditKey(*a), v)
}

func insertCertAudit(ctx context.Context, tx pgx.Tx, c *Certificate) error {
	a := pendingCertAudit(c)
	if a == nil {
		return nil
	}
	_, err := tx.Exec(ctx, "INSERT INTO ca_audit_pending (serial, version, at, doc) VALUES ($1, $2, $3, $4)", a.Serial, a.Version, a.At, a)
	return err
}

// PendingCertAudits returns up to limit (1 to 1000) certificate changes
// still pending audit whose time is before before, oldest first.
func (s *Bolt) PendingCertAudits(ctx context.Context, before time.Time, limit int) ([]CertAudit, error) {
	out, err := pendingBefore[CertAudit](s.db, bucketCAAuditPend, before, limit)
	if err != nil {
		return nil, fmt.Errorf("pending certificate audits: %w", err)
	}
	return out, nil
}

// ClearPendingCertAudits removes changes (as PendingCertAudits returned
// them) from the pending audit; absent ones are ignored.
func (s *Bolt) ClearPendingCertAudits(ctx context.Context, changes []CertAudit) error {
	if err := clearPending(s.db, bucketCAAuditPend, changes, certAuditKey); err != nil {
		return fmt.Errorf("clear pending certificate audits: %w", err)
	}
	return nil
}

// PendingCertAudits implements the same method of [Bolt].
func (s *Postgres) PendingCertAudits(ctx context.Context, before time.Time, limit int) ([]CertAudit, error) {
	limit = max(1, min(limit, maxPendingAudit))
	rows, err := s.pool.Query(ctx, "SELECT doc FROM ca_audit_pending WHERE at < $1 ORDER BY at, serial, version LIMIT $2", before, limit)
	if err != nil {
		return nil, fmt.Errorf("pending certificate audits: %w", err)
	}
	out, err := collectDocs[CertAudit](rows)
	if err != nil {
		return nil, fmt.Errorf("pending certificate audits: %w", err)
	}
	return out, nil
}

// ClearPendingCertAudits implements the same method of [Bolt].
func (s *Postgres) ClearPendingCertAudits(ctx context.Context, changes []CertAudit) error {
	if len(changes) == 0 {
		return nil
	}
	serials, versions := make([]string, len(changes)), make([]int64, len(changes))
	for i, a := range changes {
		serials[i], versions[i] = a.Serial, a.Version
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM ca_audit_pending p USING unnest($1::text[], $2::bigint[]) AS q(serial, version)
		WHERE p.serial = q.serial AND p.version = q.version`, serials, versions); err != nil {
		return fmt.Errorf("clear pending certificate audits: %w", err)
	}
	return nil
}
