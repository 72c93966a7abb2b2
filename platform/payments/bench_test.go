package payments_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/platform/payments"
	"github.com/thiqa/thiqa/platform/payments/sandbox"
	"github.com/thiqa/thiqa/platform/seal"
	"github.com/thiqa/thiqa/store"
)

// BenchmarkHandleCallback applies one authentic payment callback per
// operation to a fresh invoice on bbolt: HMAC check, decode, and the
// durable update that records the gateway transaction.
func BenchmarkHandleCallback(b *testing.B) {
	secret := make([]byte, 32)
	st, err := store.OpenBolt(filepath.Join(b.TempDir(), "thiqa.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	client, _ := sandbox.NewClient("http://127.0.0.1:1", secret, sandbox.ClientOptions{})
	svc := payments.New(st, client, payments.Options{})
	var bodies [][]byte
	for i := range b.N {
		inv, err := svc.CreateInvoice(ctx, payments.InvoiceRequest{Reference: fmt.Sprint("r", i), Payer: payer, AmountFils: 5000})
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, callbackBody(inv.ID, fmt.Sprint("txn_", i), 5000, "JOD"))
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := svc.HandleCallback(ctx, sandbox.Sign(secret, bodies[i], time.Now()), bodies[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceipt makes and seals one receipt at PAdES B-LT with the
// software key custody: PDF, ECDSA P-256 signature, time-stamp and OCSP
// from the CA in process.
func BenchmarkReceipt(b *testing.B) {
	keys, st := testenv.Keys(b), testenv.Bolt(b)
	authority := testenv.CA(b, keys, st, ca.Options{})
	sl, err := seal.Provision(ctx, keys, authority, st, seal.Identity{Name: "platform", Organization: "Thiqa Platform", OrgIdentifier: "GOVJO-1000"}, seal.ProvisionOptions{})
	if err != nil {
		b.Fatal(err)
	}
	inv := payments.Invoice{ID: "inv_1", Reference: "req-1", Payer: payer, AmountFils: 2500, Currency: "JOD", State: store.InvoicePaid,
		Gateway: "sandbox", GatewayTxn: "txn_1", Paid: time.Now()}
	for b.Loop() {
		if _, err := sl.Seal(ctx, payments.ReceiptPDF(inv), seal.Options{Stamp: &seal.Stamp{Page: 1, Rect: payments.ReceiptStampRect, Reason: "إيصال دفع"}}); err != nil {
			b.Fatal(err)
		}
	}
}
