package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// lockAuditHead locks the audit log's head row for the transaction
// (creating it for an empty log) and returns the head.
func lockAuditHead(ctx context.Context, tx pgx.Tx) (AuditHead, error) {
	var h AuditHead
	if _, err := tx.Exec(ctx, `INSERT INTO audit_head (id, doc) VALUES (1, '{"size":0}') ON CONFLICT DO NOTHING`); err != nil {
		return h, err
	}
	var raw []byte
	if err := tx.QueryRow(ctx, "SELECT doc FROM audit_head WHERE id = 1 FOR UPDATE").Scan(&raw); err != nil {
		return h, err
	}
	return h, json.Unmarshal(raw, &h)
}

// AppendAudit implements the same method of [Bolt]; the head row is locked
// for the transaction, so appends from several replicas take turns.
func (s *Postgres) AppendAudit(ctx context.Context, build func(head AuditHead) ([]AuditAppend, error)) ([]AuditAppend, error) {
	var out []AuditAppend
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		head, err := lockAuditHead(ctx, tx)
		if err != nil {
			return err
		}
		as, err := build(head)
		if err != nil {
			return err
		}
		for _, a := range as {
			if err := checkAuditAppend(head, a); err != nil {
				return err
			}
			if err := pgPutAuditAppend(ctx, tx, a); err != nil {
				return err
			}
			head = a.Head
		}
		raw, err := json.Marshal(head)
		if err != nil {
			return err
		}
		out = as
		_, err = tx.Exec(ctx, "UPDATE audit_head SET doc = $1 WHERE id = 1", raw)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("append audit: %w", err)
	}
	return out, nil
}

func pgPutAuditAppend(ctx context.Context, tx pgx.Tx, a AuditAppend) error {
	var details []byte
	var until *time.Time
	if d := a.Entry.Details; d != nil {
		var err error
		if details, err = json.Marshal(d); err != nil {
			return err
		}
		until = &d.RetainUntil
	}
	var source *string
	if a.Entry.Source != "" {
		source = &a.Entry.Source
	}
	if _, err := tx.Exec(ctx, "INSERT INTO audit_records (idx, record, details, retain_until, source) VALUES ($1, $2, $3, $4, $5)",
		int64(a.Entry.Index), a.Entry.Record, details, until, source); err != nil {
		if isUniqueViolation(err) && source != nil {
			return fmt.Errorf("record of source %q: %w", *source, ErrDuplicate)
		}
		return err
	}
	batch := &pgx.Batch{}
	for _, n := range a.Nodes {
		batch.Queue(`INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3)
			ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash`, int16(n.Level), int64(n.Index), n.Hash)
	}
	batch.Queue("INSERT INTO audit_leaves (hash, idx) VALUES ($1, $2) ON CONFLICT DO NOTHING", a.Nodes[0].Hash, int64(a.Entry.Index))
	return tx.SendBatch(ctx, batch).Close()
}

// AuditHead implements the same method of [Bolt].
func (s *Postgres) AuditHead(ctx context.Context) (AuditHead, error) {
	var h AuditHead
	var raw []byte
	err := s.pool.QueryRow(ctx, "SELECT doc FROM audit_head WHERE id = 1").Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return AuditHead{}, nil
	}
	if err == nil {
		err = json.Unmarshal(raw, &h)
	}
	if err != nil {
		return AuditHead{}, fmt.Errorf("audit head: %w", err)
	}
	return h, nil
}

// AuditEntries implements the same method of [Bolt].
func (s *Postgres) AuditEntries(ctx context.Context, from uint64, limit int) ([]AuditEntry, error) {
	limit = Page{Limit: limit}.limit()
	if from > 1<<63-1 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, "SELECT idx, record, details FROM audit_records WHERE idx >= $1 ORDER BY idx LIMIT $2", int64(from), limit)
	if err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var idx int64
		var e AuditEntry
		var details []byte
		if err := rows.Scan(&idx, &e.Record, &details); err != nil {
			return nil, fmt.Errorf("audit entries: %w", err)
		}
		e.Index = uint64(idx)
		if details != nil {
			e.Details = new(AuditDetails)
			if err := json.Unmarshal(details, e.Details); err != nil {
				return nil, fmt.Errorf("audit entries: details of record %d: %w", idx, err)
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	return out, nil
}

// AuditSourceIndexes implements the same method of [Bolt].
func (s *Postgres) AuditSourceIndexes(ctx context.Context, sources []string) (map[string]uint64, error) {
	if len(sources) > 1000 {
		return nil, fmt.Errorf("audit sources: %d asked, at most 1000", len(sources))
	}
	out := make(map[string]uint64)
	if len(sources) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, "SELECT source, idx FROM audit_records WHERE source = ANY($1)", sources)
	if err != nil {
		return nil, fmt.Errorf("audit sources: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var src string
		var idx int64
		if err := rows.Scan(&src, &idx); err != nil {
			return nil, fmt.Errorf("audit sources: %w", err)
		}
		out[src] = uint64(idx)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit sources: %w", err)
	}
	return out, nil
}

// AuditEntry implements the same method of [Bolt].
func (s *Postgres) AuditEntry(ctx context.Context, index uint64) (AuditEntry, error) {
	es, err := s.AuditEntries(ctx, index, 1)
	if err != nil {
		return AuditEntry{}, err
	}
	if len(es) == 0 || es[0].Index != index {
		return AuditEntry{}, fmt.Errorf("audit entry %d: %w", index, ErrNotFound)
	}
	return es[0], nil
}

// AuditNodes implements the same method of [Bolt].
func (s *Postgres) AuditNodes(ctx context.Context, ids []AuditNodeID) ([][]byte, error) {
	if len(ids) > maxAuditProofNodes {
		return nil, fmt.Errorf("audit nodes: %d requested, at most %d", len(ids), maxAuditProofNodes)
	}
	levels := make([]int16, len(ids))
	idxs := make([]int64, len(ids))
	for i, id := range ids {
		levels[i], idxs[i] = int16(id.Level), int64(id.Index)
	}
	rows, err := s.pool.Query(ctx, `SELECT q.n, a.hash FROM unnest($1::smallint[], $2::bigint[]) WITH ORDINALITY AS q(level, idx, n)
		JOIN audit_nodes a ON a.level = q.level AND a.idx = q.idx`, levels, idxs)
	if err != nil {
		return nil, fmt.Errorf("audit nodes: %w", err)
	}
	defer rows.Close()
	out := make([][]byte, len(ids))
	for rows.Next() {
		var n int64
		var h []byte
		if err := rows.Scan(&n, &h); err != nil {
			return nil, fmt.Errorf("audit nodes: %w", err)
		}
		if n >= 1 && n <= int64(len(out)) {
			out[n-1] = h
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit nodes: %w", err)
	}
	for i, h := range out {
		if h == nil {
			return nil, fmt.Errorf("audit nodes: node (%d, %d): %w", ids[i].Level, ids[i].Index, ErrNotFound)
		}
	}
	return out, nil
}

// AuditLeafIndex implements the same method of [Bolt].
func (s *Postgres) AuditLeafIndex(ctx context.Context, hash []byte) (uint64, error) {
	var idx int64
	err := s.pool.QueryRow(ctx, "SELECT idx FROM audit_leaves WHERE hash = $1", hash).Scan(&idx)
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("audit leaf %x: %w", hash, err)
	}
	return uint64(idx), nil
}

// SaveAuditCheckpoint implements the same method of [Bolt].
func (s *Postgres) SaveAuditCheckpoint(ctx context.Context, c AuditCheckpoint) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		head, err := lockAuditHead(ctx, tx)
		if err != nil {
			return err
		}
		if c.Size > head.Size {
			return fmt.Errorf("size %d beyond the log's %d: %w", c.Size, head.Size, ErrConflict)
		}
		var last *int64
		if err := tx.QueryRow(ctx, "SELECT max(size) FROM audit_checkpoints").Scan(&last); err != nil {
			return err
		}
		switch {
		case last != nil && uint64(*last) == c.Size:
			return fmt.Errorf("size %d: %w", c.Size, ErrDuplicate)
		case last != nil && uint64(*last) > c.Size:
			return fmt.Errorf("size %d older than the latest: %w", c.Size, ErrConflict)
		}
		raw, err := json.Marshal(c)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO audit_checkpoints (size, doc) VALUES ($1, $2)", int64(c.Size), raw)
		return err
	})
	if err != nil {
		return fmt.Errorf("save audit checkpoint: %w", err)
	}
	return nil
}

// LatestAuditCheckpoint implements the same method of [Bolt].
func (s *Postgres) LatestAuditCheckpoint(ctx context.Context) (AuditCheckpoint, error) {
	var c AuditCheckpoint
	var raw []byte
	err := s.pool.QueryRow(ctx, "SELECT doc FROM audit_checkpoints ORDER BY size DESC LIMIT 1").Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrNotFound
	}
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil {
		return AuditCheckpoint{}, fmt.Errorf("latest audit checkpoint: %w", err)
	}
	return c, nil
}

// AuditCheckpoints implements the same method of [Bolt].
func (s *Postgres) AuditCheckpoints(ctx context.Context, from uint64, limit int) ([]AuditCheckpoint, error) {
	limit = Page{Limit: limit}.limit()
	if from > 1<<63-1 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, "SELECT doc FROM audit_checkpoints WHERE size >= $1 ORDER BY size LIMIT $2", int64(from), limit)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	out, err := collectDocs[AuditCheckpoint](rows)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	return out, nil
}

// PurgeAuditDetails implements the same method of [Bolt].
func (s *Postgres) PurgeAuditDetails(ctx context.Context, now time.Time, limit int) (int, error) {
	limit = Page{Limit: limit}.limit()
	tag, err := s.pool.Exec(ctx, `UPDATE audit_records SET details = NULL, retain_until = NULL WHERE idx IN (
		SELECT idx FROM audit_records WHERE retain_until < $1 ORDER BY retain_until, idx LIMIT $2)`, now, limit)
	if err != nil {
		return 0, fmt.Errorf("purge audit details: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
