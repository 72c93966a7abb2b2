package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/problem"
	"github.com/thiqa/thiqa/platform/catalogue"
	"github.com/thiqa/thiqa/platform/payments"
	"github.com/thiqa/thiqa/platform/payments/sandbox"
	"github.com/thiqa/thiqa/platform/seal"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/store"
)

// platformEnv is the API with the catalogue (the sample loaded) and
// payments through a sandbox gateway on an httptest server, which calls
// back the API on another.
type platformEnv struct {
	*signEnv
	srv     http.Handler
	thiqa   *httptest.Server
	gateway *httptest.Server
	secret  []byte
	pay     *payments.Service
}

func newPlatformEnv(t testing.TB) *platformEnv {
	t.Helper()
	e := &platformEnv{signEnv: newSignEnv(t), secret: make([]byte, 32)}
	rand.Read(e.secret)
	ctx := context.Background()
	clock := func() time.Time { return *e.now }
	cat := catalogue.New(e.st, catalogue.Options{Clock: clock})
	f, err := os.Open(filepath.Join("..", "testdata", "catalogue", "sample.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := cat.Import(ctx, f, catalogue.JSONL, catalogue.DecodeOptions{}); err != nil {
		t.Fatal(err)
	}
	sl, err := seal.Provision(ctx, e.keys, e.ca, e.st, seal.Identity{Name: "platform", Organization: "Thiqa Platform",
		OrganizationAr: "منصة ثقة", OrgIdentifier: "GOVJO-1000"}, seal.ProvisionOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.gateway = httptest.NewServer(mux)
	t.Cleanup(e.gateway.Close)
	client, err := sandbox.NewClient(e.gateway.URL, e.secret, sandbox.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.pay = payments.New(e.st, client, payments.Options{Clock: clock, Sealer: sl})
	e.srv = New(Deps{Enrollment: e.svc, Catalogue: cat, Payments: e.pay}, Options{Clock: clock})
	e.thiqa = httptest.NewServer(e.srv)
	t.Cleanup(e.thiqa.Close)
	gw, err := sandbox.NewServer(sandbox.ServerOptions{Secret: e.secret, CallbackURL: e.thiqa.URL + "/api/v1/payments/callback", PublicURL: e.gateway.URL, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", gw.Handler())
	return e
}

func TestCatalogueAPI(t *testing.T) {
	c := newConformance(t)
	e := newPlatformEnv(t)
	var list serviceList
	rec := c.do(t, e.srv, "GET", "/api/v1/services?q="+url.QueryEscape("شهاده"), "", nil, nil)
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != 200 || len(list.Services) < 3 || list.Next != "" {
		t.Fatalf("search: %d %s", rec.Code, rec.Body)
	}
	rec = c.do(t, e.srv, "GET", "/api/v1/services?agency=CSPD&limit=2", "", nil, nil)
	if json.Unmarshal(rec.Body.Bytes(), &list); len(list.Services) != 2 || list.Next != "CSPD-002" {
		t.Fatalf("page: %s", rec.Body)
	}
	rec = c.do(t, e.srv, "GET", "/api/v1/services?agency=CSPD&after=CSPD-002&limit=100", "", nil, nil)
	list = serviceList{}
	if json.Unmarshal(rec.Body.Bytes(), &list); len(list.Services) != 4 || list.Next != "" {
		t.Fatalf("second page: %s", rec.Body)
	}
	var svc catalogue.Service
	rec = c.do(t, e.srv, "GET", "/api/v1/services/CSPD-001", "", nil, nil)
	if json.Unmarshal(rec.Body.Bytes(), &svc); rec.Code != 200 || svc.FeeFils != 2000 || svc.NameAr != "إصدار شهادة ميلاد" {
		t.Fatalf("service: %d %s", rec.Code, rec.Body)
	}
	for _, tt := range []struct {
		path string
		code int
	}{
		{"/api/v1/services/NOPE-1", 404},
		{"/api/v1/services?limit=0", 400},
		{"/api/v1/services?limit=many", 400},
		{"/api/v1/services?q=" + strings.Repeat("x", 201), 400},
	} {
		if rec := c.do(t, e.srv, "GET", tt.path, "", nil, nil); rec.Code != tt.code || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s: %d %s, want a %d problem", tt.path, rec.Code, rec.Body, tt.code)
		}
	}
}

func TestPaymentsAPI(t *testing.T) {
	c := newConformance(t)
	e := newPlatformEnv(t)
	ctx := context.Background()
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	_, tok := e.citizen(t, off, "9861234567")
	_, other := e.citizen(t, off, "9867654321")
	// Package requests makes the invoice of a fee-bearing request.
	inv, err := e.pay.CreateInvoice(ctx, payments.InvoiceRequest{Reference: "req-1", Payer: "9861234567", AmountFils: 2000,
		DescriptionEn: "Birth certificate issuance", DescriptionAr: "إصدار شهادة ميلاد"})
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/invoices/" + inv.ID
	wantStatus := func(rec *httptest.ResponseRecorder, code int, slug string) {
		t.Helper()
		var pd problem.Details
		json.Unmarshal(rec.Body.Bytes(), &pd)
		if rec.Code != code || (slug != "" && !strings.HasSuffix(pd.Type, "/"+slug)) {
			t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, code, slug)
		}
	}
	wantStatus(c.do(t, e.srv, "GET", base, other, nil, nil), 404, "invoice-not-found")
	wantStatus(c.do(t, e.srv, "POST", base+"/checkout", other, nil, nil), 404, "invoice-not-found")
	wantStatus(c.do(t, e.srv, "GET", base+"/receipt", tok, nil, nil), 409, "invoice-state")
	wantStatus(c.do(t, e.srv, "GET", "/api/v1/invoices/inv_nope", tok, nil, nil), 404, "invoice-not-found")
	var got payments.Invoice
	rec := c.do(t, e.srv, "GET", base, tok, nil, nil)
	if json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != 200 || got.State != "open" || got.AmountFils != 2000 {
		t.Fatalf("invoice: %d %s", rec.Code, rec.Body)
	}
	var co checkoutReply
	rec = c.do(t, e.srv, "POST", base+"/checkout", tok, nil, nil)
	if json.Unmarshal(rec.Body.Bytes(), &co); rec.Code != 200 || !strings.HasPrefix(co.URL, e.gateway.URL) {
		t.Fatalf("checkout: %d %s", rec.Code, rec.Body)
	}

	// Callbacks that must change nothing, through the API.
	cb := func(fils int64, currency, invoice, txn string) []byte {
		b, _ := json.Marshal(sandbox.Callback{Type: payments.EventPaid, TransactionID: txn, InvoiceID: invoice, AmountFils: fils, Currency: currency, Created: time.Now()})
		return b
	}
	signed := func(b []byte) http.Header { return sandbox.Sign(e.secret, b, time.Now()) }
	post := func(b []byte) *httptest.ResponseRecorder {
		return c.do(t, e.srv, "POST", "/api/v1/payments/callback", "", b, signed(b))
	}
	body := cb(2000, "JOD", inv.ID, "txn_evil")
	wantStatus(c.do(t, e.srv, "POST", "/api/v1/payments/callback", "", body, sandbox.Sign(make([]byte, 32), body, time.Now())), 401, "callback-not-authentic")
	wantStatus(c.do(t, e.srv, "POST", "/api/v1/payments/callback", "", body, sandbox.Sign(e.secret, body, time.Now().Add(-time.Hour))), 401, "callback-not-authentic")
	wantStatus(post(cb(200, "JOD", inv.ID, "t1")), 422, "callback-mismatch")
	wantStatus(post(cb(2000, "JOD", "inv_x", "t2")), 422, "callback-mismatch")
	if cur, _ := e.pay.Invoice(ctx, inv.ID); cur.Version != 1 {
		t.Fatalf("refused callbacks changed the invoice: %+v", cur)
	}

	// Pay on the gateway's page; its callback reaches the API.
	resp, err := http.PostForm(co.URL, url.Values{"card": {"4242 4242 4242 4242"}, "action": {"pay"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "Payment accepted") {
		t.Fatalf("gateway page: %s", page)
	}
	rec = c.do(t, e.srv, "GET", base, tok, nil, nil)
	if json.Unmarshal(rec.Body.Bytes(), &got); got.State != "paid" {
		t.Fatalf("after paying: %s", rec.Body)
	}
	replay := cb(2000, "JOD", inv.ID, got.GatewayTxn)
	wantStatus(post(replay), 200, "")
	wantStatus(post(cb(2000, "JOD", inv.ID, "txn_second")), 409, "invoice-state")
	wantStatus(c.do(t, e.srv, "POST", base+"/checkout", tok, nil, nil), 409, "invoice-state")

	rec = c.do(t, e.srv, "GET", base+"/receipt", tok, nil, nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/pdf" {
		t.Fatalf("receipt: %d %s", rec.Code, rec.Body)
	}
	rep, err := validate.Validate(ctx, bytes.NewReader(rec.Body.Bytes()), int64(rec.Body.Len()),
		&validate.Options{TrustAnchors: []*x509.Certificate{e.root}, Time: e.now.Add(time.Hour)})
	if err != nil || rep.Indication != validate.TotalPassed {
		t.Fatalf("receipt validation: %v %+v", err, rep)
	}
	wantStatus(c.do(t, e.srv, "GET", base+"/receipt", other, nil, nil), 404, "invoice-not-found")
	c.do(t, e.srv, "GET", base+"/receipt", admin, nil, nil)

	wantStatus(c.do(t, e.srv, "POST", base+"/refunds", admin, []byte(`{"amount_fils":3000}`), nil), 400, "bad-request")
	wantStatus(c.do(t, e.srv, "POST", base+"/refunds", admin, []byte(`{"amount_fils":"500"}`), nil), 400, "bad-request")
	rec = c.do(t, e.srv, "POST", base+"/refunds", admin, []byte(`{"amount_fils":500,"reason":"partly not delivered"}`), nil)
	if json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != 200 || got.RefundedFils != 500 || got.State != "paid" {
		t.Fatalf("refund: %d %s", rec.Code, rec.Body)
	}
	var report payments.Report
	rec = c.do(t, e.srv, "GET", "/api/v1/payments/reconciliation", admin, nil, nil)
	if json.Unmarshal(rec.Body.Bytes(), &report); rec.Code != 200 || !report.Clean() || len(report.Matched) != 1 {
		t.Fatalf("reconciliation: %d %s", rec.Code, rec.Body)
	}
	for key, statuses := range c.seen {
		if strings.Contains(key, "/invoices") || strings.Contains(key, "/payments") {
			if !succeeded(statuses) {
				t.Errorf("%s: never succeeded (%v)", key, statuses)
			}
		}
	}
}
