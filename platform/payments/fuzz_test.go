package payments_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/platform/payments"
	"github.com/thiqa/thiqa/platform/payments/sandbox"
	"github.com/thiqa/thiqa/store"
)

// FuzzCallback signs arbitrary bodies with the right secret (so they pass
// the HMAC and reach the decoder and the invoice checks) and applies them
// to an open invoice of 5000 fils: nothing panics, and the invoice is paid
// only by a payment event of exactly 5000 JOD fils.
func FuzzCallback(f *testing.F) {
	secret := bytes.Repeat([]byte{1}, 32)
	st := &memStore{invoices: map[string]store.Invoice{}, events: map[string]bool{}}
	client, _ := sandbox.NewClient("http://127.0.0.1:1", secret, sandbox.ClientOptions{})
	svc := payments.New(st, client, payments.Options{})
	f.Add(callbackBody("inv_x", "txn_1", 5000, "JOD"))
	f.Add(callbackBody("inv_x", "txn_2", 4999, "JOD"))
	f.Add([]byte(`{"type":"payment.declined","transaction_id":"t","invoice_id":"inv_x","amount_fils":5000,"currency":"JOD","created":"2026-11-03T09:00:00Z"}`))
	f.Add([]byte(`{"type":"payment.succeeded","transaction_id":"t","invoice_id":"inv_x","amount_fils":5000,"currency":"JOD","created":"2026-11-03T09:00:00Z"}`))

	f.Fuzz(func(t *testing.T, body []byte) {

		id := "inv_x"
		inv, err := svc.CreateInvoice(ctx, payments.InvoiceRequest{Reference: "r" + time.Now().Format(time.RFC3339Nano), Payer: payer, AmountFils: 5000})
		if err != nil {
			t.Fatal(err)
		}
		// Point the body at the fresh invoice.
		body = bytes.ReplaceAll(body, []byte(id), []byte(inv.ID))
		got, err := svc.HandleCallback(ctx, sandbox.Sign(secret, body, time.Now()), body)
		cur, _ := svc.Invoice(ctx, inv.ID)
		if cur.State == store.InvoicePaid {
			ev, derr := sandbox.DecodeCallback(body)
			if err != nil || derr != nil || ev.Kind != payments.EventPaid || ev.AmountFils != 5000 || ev.Currency != "JOD" || got.ID != inv.ID {
				t.Fatalf("invoice paid by %s (%v, %v)", body, err, derr)
			}
		}
	})
}

// memStore keeps invoices in memory, so that fuzzing is not bound by
// fsync; the store contract suite covers the real stores.
type memStore struct {
	mu       sync.Mutex
	invoices map[string]store.Invoice
	events   map[string]bool
}

func (m *memStore) InsertInvoice(_ context.Context, inv store.Invoice) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.invoices {
		if o.ID == inv.ID || o.Reference == inv.Reference {
			return store.ErrDuplicate
		}
	}
	inv.Version = 1
	m.invoices[inv.ID] = inv
	return nil
}

func (m *memStore) Invoice(_ context.Context, id string) (store.Invoice, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inv, ok := m.invoices[id]
	if !ok {
		return inv, store.ErrNotFound
	}
	return inv, nil
}

func (m *memStore) InvoiceByReference(_ context.Context, ref string) (store.Invoice, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.invoices {
		if o.Reference == ref {
			return o, nil
		}
	}
	return store.Invoice{}, store.ErrNotFound
}

func (m *memStore) Invoices(context.Context, store.Page) ([]store.Invoice, error) { return nil, nil }

func (m *memStore) UpdateInvoice(_ context.Context, id, event string, fn func(*store.Invoice) error) (store.Invoice, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inv, ok := m.invoices[id]
	if !ok {
		return inv, store.ErrNotFound
	}
	if event != "" && m.events[event] {
		return inv, store.ErrDuplicate
	}
	if err := fn(&inv); err != nil {
		return m.invoices[id], err
	}
	if event != "" {
		m.events[event] = true
	}
	inv.Version++
	m.invoices[id] = inv
	return inv, nil
}
