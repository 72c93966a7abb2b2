package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/thiqa/thiqa/platform/payments"
	"github.com/thiqa/thiqa/platform/payments/sandbox"
	"github.com/thiqa/thiqa/store"
)

// FuzzPaymentCallbackAPI signs any body with the gateway's secret (so it
// gets past the HMAC to the decoder and the invoice checks) and posts it
// to the callback endpoint: never a server error, and a fresh open invoice
// of 2000 fils is paid only by a payment event of exactly that amount.
// The placeholder INV in a body stands for that invoice's ID.
func FuzzPaymentCallbackAPI(f *testing.F) {
	e := newPlatformEnv(f)
	ctx := context.Background()
	real, _ := json.Marshal(sandbox.Callback{Type: payments.EventPaid, TransactionID: "txn_1", InvoiceID: "INV", AmountFils: 2000, Currency: "JOD", Created: time.Now()})
	for _, s := range []string{string(real), `{}`, `{"type":"payment.declined","transaction_id":"t","invoice_id":"INV"}`, `[]`, `null`,
		`{"type":"payment.succeeded","transaction_id":"t","invoice_id":"INV","amount_fils":2000,"currency":"jod"}`,
		`{"type":"payment.succeeded","transaction_id":"t","invoice_id":"INV","amount_fils":2000.0,"currency":"JOD"}`} {
		f.Add([]byte(s))
	}
	n := 0
	f.Fuzz(func(t *testing.T, raw []byte) {
		n++
		inv, err := e.pay.CreateInvoice(ctx, payments.InvoiceRequest{Reference: fmt.Sprintf("fuzz-%d-%d", time.Now().UnixNano(), n), Payer: "9861234567", AmountFils: 2000})
		if err != nil {
			t.Fatal(err)
		}
		body := bytes.ReplaceAll(raw, []byte("INV"), []byte(inv.ID))
		req := httptest.NewRequest("POST", "/api/v1/payments/callback", bytes.NewReader(body))
		for k, v := range sandbox.Sign(e.secret, body, time.Now()) {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%d %s for %q", rec.Code, rec.Body, body)
		}
		if cur, _ := e.pay.Invoice(ctx, inv.ID); cur.State != store.InvoiceOpen {
			ev, derr := sandbox.DecodeCallback(body)
			if derr != nil || ev.AmountFils != 2000 || ev.Currency != "JOD" || ev.Kind != payments.EventPaid || rec.Code != 200 {
				t.Fatalf("invoice %s by %q (%d)", cur.State, body, rec.Code)
			}
		}
	})
}

// FuzzRefundBody: any body sent by an administrator to refund a paid
// invoice is answered without a server error, and never refunds more than
// was paid.
func FuzzRefundBody(f *testing.F) {
	e := newPlatformEnv(f)
	ctx := context.Background()
	admin := e.officer(f, "", "root", store.RoleAdmin)
	inv, err := e.pay.CreateInvoice(ctx, payments.InvoiceRequest{Reference: "fuzz-refund", Payer: "9861234567", AmountFils: 1_000_000})
	if err != nil {
		f.Fatal(err)
	}
	body, _ := json.Marshal(sandbox.Callback{Type: payments.EventPaid, TransactionID: "txn_r", InvoiceID: inv.ID, AmountFils: 1_000_000, Currency: "JOD", Created: time.Now()})
	if _, err := e.pay.HandleCallback(ctx, sandbox.Sign(e.secret, body, time.Now()), body); err != nil {
		// The gateway does not know txn_r: refunds fail at the gateway
		// (502), which still exercises the body's decoding and checks.
		f.Fatal(err)
	}
	for _, s := range []string{`{"amount_fils":1}`, `{"amount_fils":-5}`, `{"amount_fils":1e3}`, `{"amount_fils":9223372036854775807}`, `{"reason":"x"}`, `{}`, `null`, `[]`, `{"amount_fils":1,"extra":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req := httptest.NewRequest("POST", "/api/v1/invoices/"+inv.ID+"/refunds", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+admin)
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != 502 {
			t.Fatalf("%d %s for %q", rec.Code, rec.Body, raw)
		}
		if cur, _ := e.pay.Invoice(ctx, inv.ID); cur.RefundedFils > cur.AmountFils || cur.RefundedFils < 0 {
			t.Fatalf("refunded %d of %d", cur.RefundedFils, cur.AmountFils)
		}
	})
}
