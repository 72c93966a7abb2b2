package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PutCatalogueServices implements the same method of [Bolt]: the
// catalogue's version row is locked for the transaction, so concurrent
// imports from several replicas apply one after the other.
func (s *Postgres) PutCatalogueServices(ctx context.Context, svcs []CatalogueService, now time.Time) (CatalogueChanges, error) {
	var ch CatalogueChanges
	if len(svcs) > maxCatalogueBatch {
		return ch, fmt.Errorf("put catalogue services: more than %d in one call", maxCatalogueBatch)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ch = CatalogueChanges{}
		if _, err := tx.Exec(ctx, "SELECT version FROM cat_meta WHERE id = 1 FOR UPDATE"); err != nil {
			return err
		}
		for _, sv := range svcs {
			if sv.Code == "" {
				return fmt.Errorf("service code is required")
			}
			var old CatalogueService
			var raw []byte
			err := tx.QueryRow(ctx, "SELECT doc FROM cat_services WHERE code = $1", sv.Code).Scan(&raw)
			found := err == nil
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if found {
				if err := json.Unmarshal(raw, &old); err != nil {
					return err
				}
			}
			rec, changed := mergeService(old, found, sv, now)
			switch {
			case !changed:
				ch.Unchanged++
				continue
			case found:
				ch.Updated++
			default:
				ch.Created++
			}
			doc, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO cat_services (code, doc) VALUES ($1, $2)
				ON CONFLICT (code) DO UPDATE SET doc = EXCLUDED.doc`, sv.Code, doc); err != nil {
				return err
			}
		}
		if ch.Created+ch.Updated == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, "UPDATE cat_meta SET version = version + 1 WHERE id = 1")
		return err
	})
	if err != nil {
		return CatalogueChanges{}, fmt.Errorf("put catalogue services: %w", err)
	}
	return ch, nil
}

// CatalogueService implements the same method of [Bolt].
func (s *Postgres) CatalogueService(ctx context.Context, code string) (CatalogueService, error) {
	var out CatalogueService
	var raw []byte
	err := s.pool.QueryRow(ctx, "SELECT doc FROM cat_services WHERE code = $1", code).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrNotFound
	}
	if err == nil {
		err = json.Unmarshal(raw, &out)
	}
	if err != nil {
		return CatalogueService{}, fmt.Errorf("catalogue service %q: %w", code, err)
	}
	return out, nil
}

// CatalogueServices implements the same method of [Bolt].
func (s *Postgres) CatalogueServices(ctx context.Context, p Page) ([]CatalogueService, error) {
	rows, err := s.pool.Query(ctx, "SELECT doc FROM cat_services WHERE code > $1 ORDER BY code LIMIT $2", p.After, p.limit())
	if err != nil {
		return nil, fmt.Errorf("catalogue services: %w", err)
	}
	out, err := collectDocs[CatalogueService](rows)
	if err != nil {
		return nil, fmt.Errorf("catalogue services: %w", err)
	}
	return out, nil
}

// CatalogueVersion implements the same method of [Bolt].
func (s *Postgres) CatalogueVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, "SELECT version FROM cat_meta WHERE id = 1").Scan(&v); err != nil {
		return 0, fmt.Errorf("catalogue version: %w", err)
	}
	return v, nil
}
