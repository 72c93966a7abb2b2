package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// roundTrip answers every callback the gateway sends with 200, without a
// network.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzServer sends the gateway's endpoints (its signed API and the
// checkout page a browser posts to) arbitrary bodies, signed with the
// shared secret or not: the gateway never panics nor answers 5xx, an
// unsigned API call is always 401, and no money moves on a refused call.
func FuzzServer(f *testing.F) {
	ok := roundTrip(func(r *http.Request) (*http.Response, error) {
		io.Copy(io.Discard, r.Body)
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: r}, nil
	})
	s, err := NewServer(ServerOptions{Secret: secret, CallbackURL: "http://thiqa.test/api/v1/payments/callback", PublicURL: "http://gw.test",
		HTTPClient: &http.Client{Transport: ok}, Retries: 1})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	// A checkout the page posts may pay, and a transaction to refund.
	body, _ := json.Marshal(CheckoutRequest{InvoiceID: "inv_1", AmountFils: 2000, Currency: "JOD", Description: "fee"})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/v1/checkouts", bytes.NewReader(body))
	for k, v := range Sign(secret, body, time.Now()) {
		req.Header[k] = v
	}
	h.ServeHTTP(rec, req)
	var co CheckoutResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &co); err != nil || rec.Code != 201 {
		f.Fatalf("checkout: %d %s", rec.Code, rec.Body)
	}
	s.txns["txn_1"] = &txn{ID: "txn_1", AmountFils: 100, State: "succeeded", Currency: "JOD"}
	routes := []struct{ method, path, ctype string }{
		{"POST", "/v1/checkouts", "application/json"},
		{"POST", "/v1/refunds", "application/json"},
		{"GET", "/v1/transactions", ""},
		{"POST", "/checkout/" + co.ID, "application/x-www-form-urlencoded"},
		{"GET", "/checkout/" + co.ID, ""},
		{"POST", "/checkout/chk_nope", "application/x-www-form-urlencoded"},
	}
	f.Add(uint8(0), true, body)
	f.Add(uint8(0), false, body)
	f.Add(uint8(0), true, []byte(`{"invoice_id":"x","amount_fils":-5,"currency":"JOD"}`))
	f.Add(uint8(0), true, []byte(`{"invoice_id":"x","amount_fils":5,"currency":"JOD","return_url":"javascript:alert(1)"}`))
	f.Add(uint8(1), true, []byte(`{"transaction_id":"txn_1","amount_fils":60,"idempotency_key":"k1"}`))
	f.Add(uint8(1), true, []byte(`{"transaction_id":"txn_1","amount_fils":1000,"idempotency_key":"k2"}`))
	f.Add(uint8(1), false, []byte(`{"transaction_id":"txn_1","amount_fils":60,"idempotency_key":"k3"}`))
	f.Add(uint8(2), true, []byte(nil))
	f.Add(uint8(3), false, []byte("card=4000+0000+0000+0002&action=pay"))
	f.Add(uint8(3), false, []byte("card=1234&action=pay"))
	f.Add(uint8(3), false, []byte("card=%ZZ&action=cancel"))
	f.Add(uint8(4), false, []byte(nil))
	f.Add(uint8(5), false, []byte("card=4242424242424242&action=pay"))
	f.Fuzz(func(t *testing.T, route uint8, signed bool, body []byte) {
		rt := routes[int(route)%len(routes)]
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		if rt.ctype != "" {
			req.Header.Set("Content-Type", rt.ctype)
		}
		if signed {
			for k, v := range Sign(secret, body, time.Now()) {
				req.Header[k] = v
			}
		}
		s.mu.Lock()
		refunded := s.txns["txn_1"].RefundedFils
		s.mu.Unlock()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, rec.Code, rec.Body)
		}
		if strings.HasPrefix(rt.path, "/v1/") && !signed && rec.Code != http.StatusUnauthorized {
			t.Fatalf("unsigned %s %s: %d", rt.method, rt.path, rec.Code)
		}
		s.mu.Lock()
		after := s.txns["txn_1"].RefundedFils
		s.mu.Unlock()
		if rec.Code >= 400 && after != refunded {
			t.Fatalf("refused %s %s %q refunded %d fils", rt.method, rt.path, body, after-refunded)
		}
		if after > 100 {
			t.Fatalf("refunded %d fils of a 100 fils payment", after)
		}
	})
}
