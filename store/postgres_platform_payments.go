package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// InsertInvoice implements the same method of [Bolt].
func (s *Postgres) InsertInvoice(ctx context.Context, inv Invoice) error {
	if inv.ID == "" || inv.Reference == "" {
		return fmt.Errorf("insert invoice: id and reference are required")
	}
	inv.Version = 1
	doc, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("insert invoice %s: %w", inv.ID, err)
	}
	tag, err := s.pool.Exec(ctx, "INSERT INTO pay_invoices (id, reference, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", inv.ID, inv.Reference, doc)
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrDuplicate
	}
	if err != nil {
		return fmt.Errorf("insert invoice %s: %w", inv.ID, err)
	}
	return nil
}

func (s *Postgres) invoiceWhere(ctx context.Context, q pgx.Row) (Invoice, error) {
	var inv Invoice
	var raw []byte
	err := q.Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return inv, ErrNotFound
	}
	if err == nil {
		err = json.Unmarshal(raw, &inv)
	}
	return inv, err
}

// Invoice implements the same method of [Bolt].
func (s *Postgres) Invoice(ctx context.Context, id string) (Invoice, error) {
	inv, err := s.invoiceWhere(ctx, s.pool.QueryRow(ctx, "SELECT doc FROM pay_invoices WHERE id = $1", id))
	if err != nil {
		return Invoice{}, fmt.Errorf("invoice %s: %w", id, err)
	}
	return inv, nil
}

// InvoiceByReference implements the same method of [Bolt].
func (s *Postgres) InvoiceByReference(ctx context.Context, ref string) (Invoice, error) {
	inv, err := s.invoiceWhere(ctx, s.pool.QueryRow(ctx, "SELECT doc FROM pay_invoices WHERE reference = $1", ref))
	if err != nil {
		return Invoice{}, fmt.Errorf("invoice for %q: %w", ref, err)
	}
	return inv, nil
}

// Invoices implements the same method of [Bolt].
func (s *Postgres) Invoices(ctx context.Context, p Page) ([]Invoice, error) {
	rows, err := s.pool.Query(ctx, "SELECT doc FROM pay_invoices WHERE id > $1 ORDER BY id LIMIT $2", p.After, p.limit())
	if err != nil {
		return nil, fmt.Errorf("invoices: %w", err)
	}
	out, err := collectDocs[Invoice](rows)
	if err != nil {
		return nil, fmt.Errorf("invoices: %w", err)
	}
	return out, nil
}

// UpdateInvoice implements the same method of [Bolt]: the invoice's row
// is locked for the transaction and the event's key is unique, so two
// replicas given the same callback apply it once.
func (s *Postgres) UpdateInvoice(ctx context.Context, id, event string, fn func(*Invoice) error) (Invoice, error) {
	var inv Invoice
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		inv, err = s.invoiceWhere(ctx, tx.QueryRow(ctx, "SELECT doc FROM pay_invoices WHERE id = $1 FOR UPDATE", id))
		if err != nil {
			return err
		}
		if event != "" {
			tag, err := tx.Exec(ctx, "INSERT INTO pay_events (event, invoice_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", event, id)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return ErrDuplicate
			}
		}
		if err := applyInvoiceUpdate(&inv, fn); err != nil {
			return err
		}
		doc, err := json.Marshal(inv)
		if err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, "UPDATE pay_invoices SET doc = $2 WHERE id = $1", id, doc); err != nil {
			return err
		}
		return insertPendingAudit(ctx, tx, inv.AuditPending)
	})
	if err != nil {
		return inv, fmt.Errorf("update invoice %s: %w", id, err)
	}
	return inv, nil
}

// SealCertificate implements the same method of [Bolt].
func (s *Postgres) SealCertificate(ctx context.Context, name string) ([]byte, error) {
	var der []byte
	err := s.pool.QueryRow(ctx, "SELECT der FROM platform_seal_certs WHERE name = $1", name).Scan(&der)
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("seal certificate %s: %w", name, err)
	}
	return der, nil
}

// PutSealCertificate implements the same method of [Bolt].
func (s *Postgres) PutSealCertificate(ctx context.Context, name string, old, der []byte) ([]byte, error) {
	var out []byte
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "seal:"+name); err != nil {
			return err
		}
		var cur []byte
		err := tx.QueryRow(ctx, "SELECT der FROM platform_seal_certs WHERE name = $1", name).Scan(&cur)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if !bytes.Equal(cur, old) {
			out = cur
			return nil
		}
		out = der
		_, err = tx.Exec(ctx, `INSERT INTO platform_seal_certs (name, der) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET der = EXCLUDED.der`, name, der)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("put seal certificate %s: %w", name, err)
	}
	return out, nil
}
