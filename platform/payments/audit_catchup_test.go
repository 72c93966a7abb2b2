package payments_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/platform/payments"
	"github.com/thiqa/thiqa/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// crashingAuditor stands for a process killed between a payment's or
// refund's commit and its audit append.
type crashingAuditor struct{}

var errCrash = errors.New("killed before the audit append")

func (crashingAuditor) Append(context.Context, audit.Event) (audit.Receipt, error) {
	return audit.Receipt{}, errCrash
}

// replayGateway is a gateway whose callbacks are already authenticated
// events (the sandbox's signatures are tested elsewhere): the catch-up
// depends only on what the service stores.
type replayGateway struct{ next payments.Event }

func (g *replayGateway) Name() string { return "replay" }
func (g *replayGateway) Checkout(context.Context, payments.Invoice, string) (string, error) {
	return "", errors.New("no checkout")
}
func (g *replayGateway) ParseCallback(http.Header, []byte) (payments.Event, error) {
	return g.next, nil
}
func (g *replayGateway) Refund(_ context.Context, txn string, _ int64, key string) (string, error) {
	return "rf_" + key, nil
}
func (g *replayGateway) Transactions(context.Context) ([]payments.Transaction, error) {
	return nil, nil
}

type pendingAuditStore interface {
	payments.Store
	audit.Store
	audit.PendingStore
}

// TestCatchUpAudit: a payment and a refund committed without their audit
// records (the process died in between; the gateway's second delivery of
// the callback then finds it applied) get them from the catch-up, exactly
// once, and the log verifies; a payment audited normally is not copied
// again. On bbolt and on PostgreSQL.
func TestCatchUpAudit(t *testing.T) {
	stores := map[string]func(t *testing.T) pendingAuditStore{
		"bolt": func(t *testing.T) pendingAuditStore {
			st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"postgres": func(t *testing.T) pendingAuditStore {
			st, err := store.OpenPostgres(ctx, pgtest.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) { testCatchUpAudit(t, open(t)) })
	}
}

func testCatchUpAudit(t *testing.T, st pendingAuditStore) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	log, err := audit.New(st, key, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	gw := &replayGateway{}
	crashing := payments.New(st, gw, payments.Options{Audit: crashingAuditor{}})
	audited := payments.New(st, gw, payments.Options{Audit: log})
	payOn := func(svc *payments.Service, inv payments.Invoice, txn string) error {
		gw.next = payments.Event{Kind: payments.EventPaid, TxnID: txn, InvoiceID: inv.ID, AmountFils: inv.AmountFils, Currency: inv.Currency, At: time.Now()}
		_, err := svc.HandleCallback(ctx, nil, nil)
		return err
	}
	a, err := crashing.CreateInvoice(ctx, payments.InvoiceRequest{Reference: "req-a", Payer: payer, AmountFils: 1500, DescriptionEn: "Fee"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := crashing.CreateInvoice(ctx, payments.InvoiceRequest{Reference: "req-b", Payer: payer, AmountFils: 2500, DescriptionEn: "Fee"})
	if err != nil {
		t.Fatal(err)
	}
	if err := payOn(crashing, a, "txn_a"); !errors.Is(err, errCrash) {
		t.Fatalf("payment: %v, want the crash", err)
	}
	// The gateway delivers the callback again, to the restarted node.
	if err := payOn(audited, a, "txn_a"); err != nil {
		t.Fatalf("second delivery: %v", err)
	}
	if _, err := crashing.Refund(ctx, a.ID, 500, "partly", "officer:root"); !errors.Is(err, errCrash) {
		t.Fatalf("refund: %v, want the crash", err)
	}
	if cur, err := audited.Invoice(ctx, a.ID); err != nil || cur.State != store.InvoicePaid || cur.RefundedFils != 500 {
		t.Fatalf("invoice after the crashes: %+v, %v", cur, err)
	}
	if err := payOn(audited, b, "txn_b"); err != nil {
		t.Fatal(err)
	}
	if got := paymentRecords(t, st); len(got) != 1 || got["payment.paid "+b.ID] != 1 {
		t.Fatalf("records before the catch-up: %v", got)
	}

	if n, err := log.CatchUp(ctx, st, time.Minute); err != nil || n != 0 {
		t.Fatalf("catch-up within the grace appended %d (%v), want 0", n, err)
	}
	if n, err := log.CatchUp(ctx, st, 0); err != nil || n != 2 {
		t.Fatalf("catch-up appended %d (%v), want 2", n, err)
	}
	if n, err := log.CatchUp(ctx, st, 0); err != nil || n != 0 {
		t.Fatalf("second catch-up appended %d (%v), want 0", n, err)
	}
	got := paymentRecords(t, st)
	want := map[string]int{"payment.paid " + a.ID: 1, "payment.refund " + a.ID: 1, "payment.paid " + b.ID: 1}
	if len(got) != len(want) {
		t.Errorf("records after the catch-up: %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d records, want %d", k, got[k], n)
		}
	}
	if p, err := st.PendingAudits(ctx, time.Unix(1<<40, 0), 1000); err != nil || len(p) != 0 {
		t.Errorf("records still pending after the catch-up: %d, %v", len(p), err)
	}
	if _, err := log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(ctx, st, log.Verifier()); err != nil {
		t.Fatalf("audit verify: %v", err)
	}
}

// paymentRecords counts the log's records by "action subject", checking
// that each names a distinct payments source and never the payer.
func paymentRecords(t *testing.T, st audit.Reader) map[string]int {
	t.Helper()
	out := map[string]int{}
	sources := map[string]bool{}
	es, err := st.AuditEntries(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		r, err := audit.ParseRecord(e.Record)
		if err != nil {
			t.Fatal(err)
		}
		out[r.Action+" "+r.Subject]++
		if !strings.HasPrefix(r.Source, "payments.event:") || sources[r.Source] || strings.Contains(r.Actor+r.Subject, payer) {
			t.Errorf("record %d: source %q missing or repeated, or names the payer", r.Index, r.Source)
		}
		sources[r.Source] = true
	}
	return out
}
