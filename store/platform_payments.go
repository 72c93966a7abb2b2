package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketInvoices     = []byte("pay_invoices")      // id -> JSON Invoice
	bucketInvoiceByRef = []byte("pay_invoice_refs")  // reference -> id
	bucketPayEvents    = []byte("pay_events")        // gateway event key -> invoice id
	bucketSealCerts    = []byte("platform_sealcert") // seal name -> certificate DER

	paymentBuckets = [][]byte{bucketInvoices, bucketInvoiceByRef, bucketPayEvents, bucketSealCerts}
)

func (s *Bolt) payUpdate(fn func(tx *bolt.Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range paymentBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return fn(tx)
	})
}

func (s *Bolt) payView(fn func(tx *bolt.Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketInvoices) == nil {
			return ErrNotFound
		}
		return fn(tx)
	})
}

// InsertInvoice stores a new invoice with Version 1. It fails with
// ErrDuplicate when its ID or its reference is taken.
func (s *Bolt) InsertInvoice(ctx context.Context, inv Invoice) error {
	if inv.ID == "" || inv.Reference == "" {
		return fmt.Errorf("insert invoice: id and reference are required")
	}
	inv.Version = 1
	err := s.payUpdate(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketInvoices).Get([]byte(inv.ID)) != nil || tx.Bucket(bucketInvoiceByRef).Get([]byte(inv.Reference)) != nil {
			return ErrDuplicate
		}
		if err := tx.Bucket(bucketInvoiceByRef).Put([]byte(inv.Reference), []byte(inv.ID)); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketInvoices), inv.ID, inv)
	})
	if err != nil {
		return fmt.Errorf("insert invoice %s: %w", inv.ID, err)
	}
	return nil
}

// Invoice returns the invoice id, or ErrNotFound.
func (s *Bolt) Invoice(ctx context.Context, id string) (Invoice, error) {
	var inv Invoice
	err := s.payView(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketInvoices), id, &inv) })
	if err != nil {
		return Invoice{}, fmt.Errorf("invoice %s: %w", id, err)
	}
	return inv, nil
}

// InvoiceByReference returns the invoice for reference, or ErrNotFound.
func (s *Bolt) InvoiceByReference(ctx context.Context, ref string) (Invoice, error) {
	var inv Invoice
	err := s.payView(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketInvoiceByRef).Get([]byte(ref))
		if id == nil {
			return ErrNotFound
		}
		return getJSON(tx.Bucket(bucketInvoices), string(id), &inv)
	})
	if err != nil {
		return Invoice{}, fmt.Errorf("invoice for %q: %w", ref, err)
	}
	return inv, nil
}

// Invoices lists invoices in order of ID, a page at a time.
func (s *Bolt) Invoices(ctx context.Context, p Page) ([]Invoice, error) {
	var out []Invoice
	err := s.payView(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketInvoices).Cursor()
		k, v := c.Seek([]byte(p.After))
		if k != nil && string(k) == p.After {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < p.limit(); k, v = c.Next() {
			var inv Invoice
			if err := json.Unmarshal(v, &inv); err != nil {
				return err
			}
			out = append(out, inv)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("invoices: %w", err)
	}
	return out, nil
}

// UpdateInvoice changes invoice id by fn in one transaction and returns
// it with Version increased. When event is not empty it names the gateway
// event (a transaction or refund ID) that causes the change and is
// recorded with it: an event already recorded changes nothing and returns
// the invoice as stored with ErrDuplicate, so a callback delivered twice
// is applied once. When fn fails nothing is stored.
func (s *Bolt) UpdateInvoice(ctx context.Context, id, event string, fn func(*Invoice) error) (Invoice, error) {
	var inv Invoice
	err := s.payUpdate(func(tx *bolt.Tx) error {
		if err := getJSON(tx.Bucket(bucketInvoices), id, &inv); err != nil {
			return err
		}
		if event != "" {
			if tx.Bucket(bucketPayEvents).Get([]byte(event)) != nil {
				return ErrDuplicate
			}
			if err := tx.Bucket(bucketPayEvents).Put([]byte(event), []byte(id)); err != nil {
				return err
			}
		}
		if err := applyInvoiceUpdate(&inv, fn); err != nil {
			return err
		}
		if err := putPendingAudit(tx, inv.AuditPending); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketInvoices), id, inv)
	})
	if err != nil {
		return inv, fmt.Errorf("update invoice %s: %w", id, err)
	}
	return inv, nil
}

// applyInvoiceUpdate applies fn to inv, refuses a change of its id or
// reference, and counts its version up. Every store updates an invoice
// with it.
func applyInvoiceUpdate(inv *Invoice, fn func(*Invoice) error) error {
	before := *inv
	if err := fn(inv); err != nil {
		return err
	}
	if inv.ID != before.ID || inv.Reference != before.Reference {
		return fmt.Errorf("id and reference cannot change")
	}
	inv.Version = before.Version + 1
	return nil
}

// SealCertificate returns the certificate (DER) of the e-seal called name,
// or ErrNotFound.
func (s *Bolt) SealCertificate(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := s.payView(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSealCerts).Get([]byte(name))
		if v == nil {
			return ErrNotFound
		}
		out = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("seal certificate %s: %w", name, err)
	}
	return out, nil
}

// PutSealCertificate stores der as the certificate of the e-seal called
// name if the stored one is still old (nil: none), and returns the one
// stored afterwards: when two processes race, both end up using the
// winner's.
func (s *Bolt) PutSealCertificate(ctx context.Context, name string, old, der []byte) ([]byte, error) {
	var out []byte
	err := s.payUpdate(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSealCerts)
		cur := b.Get([]byte(name))
		if !bytes.Equal(cur, old) {
			out = bytes.Clone(cur)
			return nil
		}
		out = bytes.Clone(der)
		return b.Put([]byte(name), der)
	})
	if err != nil {
		return nil, fmt.Errorf("put seal certificate %s: %w", name, err)
	}
	return out, nil
}
