package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const oidcColumns = "kind, id, identity_id, grant_id, doc, expires"

func scanOIDC(row pgx.Row) (OIDCEntry, error) {
	var e OIDCEntry
	var kind string
	err := row.Scan(&kind, &e.Key, &e.Identity, &e.Grant, &e.Doc, &e.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, ErrNotFound
	}
	e.Kind, e.Expires = OIDCKind(kind), e.Expires.UTC()
	return e, err
}

// InsertOIDC implements the same method of [Bolt]: a live entry with the
// same kind and key makes the insert a no-op reported as ErrDuplicate, so
// of two replicas inserting one key at once exactly one succeeds.
func (s *Postgres) InsertOIDC(ctx context.Context, e OIDCEntry, now time.Time) error {
	if !e.valid() {
		return fmt.Errorf("insert oidc %s: %w", e.Kind, ErrOIDCEntry)
	}
	tag, err := s.pool.Exec(ctx, "INSERT INTO oidc_state ("+oidcColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (kind, id) DO UPDATE SET identity_id = $3, grant_id = $4, doc = $5, expires = $6
		WHERE oidc_state.expires <= $7`, string(e.Kind), e.Key, e.Identity, e.Grant, e.Doc, e.Expires, now)
	if err != nil {
		return fmt.Errorf("insert oidc %s: %w", e.Kind, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("insert oidc %s: %w", e.Kind, ErrDuplicate)
	}
	return nil
}

// PutOIDC implements the same method of [Bolt].
func (s *Postgres) PutOIDC(ctx context.Context, e OIDCEntry) error {
	if !e.valid() {
		return fmt.Errorf("put oidc %s: %w", e.Kind, ErrOIDCEntry)
	}
	const put = "INSERT INTO oidc_state (" + oidcColumns + `) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (kind, id) DO UPDATE SET identity_id = $3, grant_id = $4, doc = $5, expires = $6`
	args := []any{string(e.Kind), e.Key, e.Identity, e.Grant, e.Doc, e.Expires}
	var err error
	if e.AuditPending == nil {
		_, err = s.pool.Exec(ctx, put, args...)
	} else {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, put, args...); err != nil {
				return err
			}
			return insertPendingAudit(ctx, tx, e.AuditPending)
		})
	}
	if err != nil {
		return fmt.Errorf("put oidc %s: %w", e.Kind, err)
	}
	return nil
}

// OIDC implements the same method of [Bolt].
func (s *Postgres) OIDC(ctx context.Context, kind OIDCKind, key string, now time.Time) (OIDCEntry, error) {
	e, err := scanOIDC(s.pool.QueryRow(ctx, "SELECT "+oidcColumns+" FROM oidc_state WHERE kind = $1 AND id = $2 AND expires > $3", string(kind), key, now))
	if err != nil {
		return OIDCEntry{}, fmt.Errorf("oidc %s: %w", kind, err)
	}
	return e, nil
}

// UpdateOIDC implements the same method of [Bolt]: the row is locked for
// the transaction, so concurrent updates from several replicas apply one
// after the other (a code is consumed once).
func (s *Postgres) UpdateOIDC(ctx context.Context, kind OIDCKind, key string, now time.Time, fn func(*OIDCEntry) error) (OIDCEntry, error) {
	var out OIDCEntry
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		old, err := scanOIDC(tx.QueryRow(ctx, "SELECT "+oidcColumns+" FROM oidc_state WHERE kind = $1 AND id = $2 AND expires > $3 FOR UPDATE",
			string(kind), key, now))
		if err != nil {
			return err
		}
		e := old
		e.Doc = bytes.Clone(old.Doc)
		err = fn(&e)
		out = e
		if err != nil {
			return err
		}
		e.Kind, e.Key = kind, key
		if !e.valid() {
			return ErrOIDCEntry
		}
		_, err = tx.Exec(ctx, "UPDATE oidc_state SET identity_id = $3, grant_id = $4, doc = $5, expires = $6 WHERE kind = $1 AND id = $2",
			string(kind), key, e.Identity, e.Grant, e.Doc, e.Expires)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("update oidc %s: %w", kind, err)
	}
	return out, nil
}

// DeleteOIDC implements the same method of [Bolt].
func (s *Postgres) DeleteOIDC(ctx context.Context, kind OIDCKind, key string) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM oidc_state WHERE kind = $1 AND id = $2", string(kind), key); err != nil {
		return fmt.Errorf("delete oidc %s: %w", kind, err)
	}
	return nil
}

// DeleteOIDCByIdentity implements the same method of [Bolt].
func (s *Postgres) DeleteOIDCByIdentity(ctx context.Context, identity string) ([]OIDCEntry, error) {
	return s.deleteOIDCWhere(ctx, "identity", "identity_id", identity)
}

// DeleteOIDCByGrant implements the same method of [Bolt].
func (s *Postgres) DeleteOIDCByGrant(ctx context.Context, grant string) ([]OIDCEntry, error) {
	return s.deleteOIDCWhere(ctx, "grant", "grant_id", grant)
}

func (s *Postgres) deleteOIDCWhere(ctx context.Context, what, column, value string) ([]OIDCEntry, error) {
	if value == "" {
		return nil, fmt.Errorf("delete oidc by %s: empty %s", what, what)
	}
	rows, err := s.pool.Query(ctx, "DELETE FROM oidc_state WHERE "+column+" = $1 RETURNING "+oidcColumns, value)
	if err != nil {
		return nil, fmt.Errorf("delete oidc by %s: %w", what, err)
	}
	defer rows.Close()
	var out []OIDCEntry
	for rows.Next() {
		e, err := scanOIDC(rows)
		if err != nil {
			return nil, fmt.Errorf("delete oidc by %s: %w", what, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("delete oidc by %s: %w", what, err)
	}
	return out, nil
}

// PurgeOIDC implements the same method of [Bolt]. Replicas purging at once
// may pick the same rows; a row already deleted is skipped.
func (s *Postgres) PurgeOIDC(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM oidc_state WHERE (kind, id) IN (
		SELECT kind, id FROM oidc_state WHERE expires <= $1 ORDER BY expires LIMIT $2)`, now, limit)
	if err != nil {
		return 0, fmt.Errorf("purge oidc: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
