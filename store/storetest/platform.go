package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thiqa/thiqa/store"
)

// PlatformStore is what the platform modules (catalogue, payments, seal)
// need of a store.
type PlatformStore interface {
	PutCatalogueServices(ctx context.Context, svcs []store.CatalogueService, now time.Time) (store.CatalogueChanges, error)
	CatalogueService(ctx context.Context, code string) (store.CatalogueService, error)
	CatalogueServices(ctx context.Context, p store.Page) ([]store.CatalogueService, error)
	CatalogueVersion(ctx context.Context) (int64, error)

	InsertInvoice(ctx context.Context, inv store.Invoice) error
	Invoice(ctx context.Context, id string) (store.Invoice, error)
	InvoiceByReference(ctx context.Context, ref string) (store.Invoice, error)
	Invoices(ctx context.Context, p store.Page) ([]store.Invoice, error)
	UpdateInvoice(ctx context.Context, id, event string, fn func(*store.Invoice) error) (store.Invoice, error)

	SealCertificate(ctx context.Context, name string) ([]byte, error)
	PutSealCertificate(ctx context.Context, name string, old, der []byte) ([]byte, error)
}

func service(code, agency string, fee int64) store.CatalogueService {
	return store.CatalogueService{Code: code, Agency: agency, NameAr: "خدمة " + code, NameEn: "Service " + code,
		FeeFils: fee, Channel: store.ChannelOnline, Documents: []string{"national ID"}, SignatureRequired: true}
}

// RunPlatform runs the platform records' contract against fresh, empty
// stores made by open.
func RunPlatform(t *testing.T, open func(t *testing.T) PlatformStore) {
	t.Run("Catalogue", func(t *testing.T) { catalogueContract(t, open(t)) })
	t.Run("Invoices", func(t *testing.T) { invoiceContract(t, open(t)) })
	t.Run("InvoiceEventsOnceUnderRace", func(t *testing.T) { invoiceRace(t, open(t)) })
	t.Run("SealCertificates", func(t *testing.T) { sealCertContract(t, open(t)) })
}

func catalogueContract(t *testing.T, s PlatformStore) {
	ctx := context.Background()
	if v, err := s.CatalogueVersion(ctx); err != nil || v != 0 {
		t.Fatalf("CatalogueVersion(empty) = %d, %v", v, err)
	}
	if _, err := s.CatalogueService(ctx, "X"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CatalogueService(missing) = %v, want ErrNotFound", err)
	}
	batch := []store.CatalogueService{service("B-2", "MOI", 5000), service("A-1", "MOI", 0), service("C-3", "DLS", 12500)}
	ch, err := s.PutCatalogueServices(ctx, batch, t0)
	if err != nil || ch != (store.CatalogueChanges{Created: 3}) {
		t.Fatalf("first put = %+v, %v", ch, err)
	}
	v1, _ := s.CatalogueVersion(ctx)
	ch, err = s.PutCatalogueServices(ctx, batch, t0.Add(time.Hour))
	if err != nil || ch != (store.CatalogueChanges{Unchanged: 3}) {
		t.Fatalf("same again = %+v, %v", ch, err)
	}
	if v, _ := s.CatalogueVersion(ctx); v != v1 || v1 == 0 {
		t.Fatalf("version %d after an idempotent put, was %d", v, v1)
	}
	changed := service("B-2", "MOI", 7000)
	ch, err = s.PutCatalogueServices(ctx, []store.CatalogueService{changed, service("D-4", "DLS", 1)}, t0.Add(2*time.Hour))
	if err != nil || ch != (store.CatalogueChanges{Created: 1, Updated: 1}) {
		t.Fatalf("update = %+v, %v", ch, err)
	}
	if v, _ := s.CatalogueVersion(ctx); v <= v1 {
		t.Fatalf("version %d after a change, was %d", v, v1)
	}
	got, err := s.CatalogueService(ctx, "B-2")
	if err != nil || got.FeeFils != 7000 || got.Version != 2 || !got.Updated.Equal(t0.Add(2*time.Hour)) || got.NameAr != "خدمة B-2" || len(got.Documents) != 1 {
		t.Fatalf("CatalogueService(B-2) = %+v, %v", got, err)
	}
	all, err := s.CatalogueServices(ctx, store.Page{})
	if err != nil || codes(all) != "A-1,B-2,C-3,D-4" {
		t.Fatalf("CatalogueServices() = %s, %v", codes(all), err)
	}
	page, err := s.CatalogueServices(ctx, store.Page{After: "A-1", Limit: 2})
	if err != nil || codes(page) != "B-2,C-3" {
		t.Fatalf("CatalogueServices(after A-1, 2) = %s, %v", codes(page), err)
	}
	bad := []store.CatalogueService{service("E-5", "DLS", 1), {}}
	if _, err := s.PutCatalogueServices(ctx, bad, t0); err == nil {
		t.Fatal("a service without a code was stored")
	}
	if _, err := s.CatalogueService(ctx, "E-5"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed put stored part of its batch: %v", err)
	}
}

func codes(svcs []store.CatalogueService) string {
	var b bytes.Buffer
	for i, s := range svcs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s.Code)
	}
	return b.String()
}

func invoice(id, ref string) store.Invoice {
	return store.Invoice{ID: id, Reference: ref, Payer: "9001234567", AmountFils: 5000, Currency: "JOD",
		State: store.InvoiceOpen, Gateway: "sandbox", Created: t0}
}

func invoiceContract(t *testing.T, s PlatformStore) {
	ctx := context.Background()
	if _, err := s.Invoice(ctx, "inv_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Invoice(missing) = %v", err)
	}
	if got, err := s.Invoices(ctx, store.Page{}); err != nil || len(got) != 0 {
		t.Fatalf("Invoices(empty) = %v, %v", got, err)
	}
	for _, inv := range []store.Invoice{invoice("inv_2", "req-2"), invoice("inv_1", "req-1")} {
		if err := s.InsertInvoice(ctx, inv); err != nil {
			t.Fatal(err)
		}
	}
	for name, dup := range map[string]store.Invoice{"same id": invoice("inv_1", "req-9"), "same reference": invoice("inv_9", "req-1")} {
		if err := s.InsertInvoice(ctx, dup); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("%s: %v, want ErrDuplicate", name, err)
		}
	}
	got, err := s.InvoiceByReference(ctx, "req-1")
	if err != nil || got.ID != "inv_1" || got.Version != 1 || !got.Created.Equal(t0) || got.AmountFils != 5000 {
		t.Fatalf("InvoiceByReference(req-1) = %+v, %v", got, err)
	}
	pay := func(txn string) func(*store.Invoice) error {
		return func(inv *store.Invoice) error {
			if inv.State != store.InvoiceOpen {
				return fmt.Errorf("already %s", inv.State)
			}
			inv.State, inv.GatewayTxn, inv.Paid = store.InvoicePaid, txn, t0.Add(time.Minute)
			return nil
		}
	}
	paid, err := s.UpdateInvoice(ctx, "inv_1", "pay:txn_a", pay("txn_a"))
	if err != nil || paid.State != store.InvoicePaid || paid.Version != 2 {
		t.Fatalf("pay = %+v, %v", paid, err)
	}
	again, err := s.UpdateInvoice(ctx, "inv_1", "pay:txn_a", pay("txn_a"))
	if !errors.Is(err, store.ErrDuplicate) || again.Version != 2 || again.GatewayTxn != "txn_a" {
		t.Fatalf("same event again = %+v, %v; want the stored invoice and ErrDuplicate", again, err)
	}
	if _, err := s.UpdateInvoice(ctx, "inv_1", "pay:txn_b", pay("txn_b")); err == nil {
		t.Fatal("a second payment was applied")
	}
	// The refused event was not recorded: it can still apply elsewhere.
	if _, err := s.UpdateInvoice(ctx, "inv_2", "pay:txn_b", pay("txn_b")); err != nil {
		t.Fatalf("event of a refused change was recorded: %v", err)
	}
	if _, err := s.UpdateInvoice(ctx, "inv_1", "", func(inv *store.Invoice) error { inv.Reference = "x"; return nil }); err == nil {
		t.Fatal("the reference changed")
	}
	if _, err := s.UpdateInvoice(ctx, "inv_404", "", pay("t")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing = %v", err)
	}
	cur, _ := s.Invoice(ctx, "inv_1")
	if cur.Version != 2 || cur.GatewayTxn != "txn_a" || !cur.Paid.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after refused changes: %+v", cur)
	}
	list, err := s.Invoices(ctx, store.Page{After: "inv_1"})
	if err != nil || len(list) != 1 || list[0].ID != "inv_2" || list[0].State != store.InvoicePaid {
		t.Fatalf("Invoices(after inv_1) = %+v, %v", list, err)
	}
}

// invoiceRace delivers the same event from many goroutines: it applies
// exactly once.
func invoiceRace(t *testing.T, s PlatformStore) {
	ctx := context.Background()
	if err := s.InsertInvoice(ctx, invoice("inv_r", "req-r")); err != nil {
		t.Fatal(err)
	}
	var applied, dups atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateInvoice(ctx, "inv_r", "pay:txn_r", func(inv *store.Invoice) error {
				inv.RefundedFils++ // counts applications
				return nil
			})
			switch {
			case err == nil:
				applied.Add(1)
			case errors.Is(err, store.ErrDuplicate):
				dups.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	inv, err := s.Invoice(ctx, "inv_r")
	if err != nil || applied.Load() != 1 || dups.Load() != 7 || inv.RefundedFils != 1 {
		t.Fatalf("applied %d, duplicates %d, invoice %+v, %v", applied.Load(), dups.Load(), inv, err)
	}
}

func sealCertContract(t *testing.T, s PlatformStore) {
	ctx := context.Background()
	if _, err := s.SealCertificate(ctx, "platform"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SealCertificate(missing) = %v", err)
	}
	a, b, c := []byte{0x30, 1}, []byte{0x30, 2}, []byte{0x30, 3}
	if got, err := s.PutSealCertificate(ctx, "platform", nil, a); err != nil || !bytes.Equal(got, a) {
		t.Fatalf("first put = %x, %v", got, err)
	}
	if got, err := s.PutSealCertificate(ctx, "platform", nil, b); err != nil || !bytes.Equal(got, a) {
		t.Fatalf("racing put = %x, %v; want the winner's", got, err)
	}
	if got, err := s.PutSealCertificate(ctx, "platform", a, c); err != nil || !bytes.Equal(got, c) {
		t.Fatalf("renewal = %x, %v", got, err)
	}
	if got, err := s.SealCertificate(ctx, "platform"); err != nil || !bytes.Equal(got, c) {
		t.Fatalf("SealCertificate = %x, %v", got, err)
	}
}
