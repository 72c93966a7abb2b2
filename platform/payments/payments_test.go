package payments_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/internal/testtool"
	"github.com/thiqa/thiqa/platform/payments"
	"github.com/thiqa/thiqa/platform/payments/sandbox"
	"github.com/thiqa/thiqa/platform/seal"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/store"
)

var ctx = context.Background()

const payer = "9861012345"

// env is Thiqa's payments service on a bbolt store, its callback endpoint
// on an httptest server, and the sandbox gateway on another.
type env struct {
	st      *store.Bolt
	svc     *payments.Service
	secret  []byte
	thiqa   *httptest.Server
	gateway *httptest.Server
	now     time.Time

	mu   sync.Mutex
	paid []payments.Invoice // told by OnPaid
}

func newEnv(t *testing.T, opts payments.Options) *env {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{st: st, secret: make([]byte, 32), now: time.Now()}
	rand.Read(e.secret)
	e.thiqa = httptest.NewServer(http.HandlerFunc(e.callback))
	t.Cleanup(e.thiqa.Close)
	mux := http.NewServeMux()
	e.gateway = httptest.NewServer(mux)
	t.Cleanup(e.gateway.Close)
	gw, err := sandbox.NewServer(sandbox.ServerOptions{Secret: e.secret, CallbackURL: e.thiqa.URL + "/callback", PublicURL: e.gateway.URL, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", gw.Handler())
	client, err := sandbox.NewClient(e.gateway.URL, e.secret, sandbox.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opts.ReturnURL = "http://127.0.0.1/app/"
	e.svc = payments.New(st, client, opts)
	e.svc.OnPaid(func(_ context.Context, inv payments.Invoice) {
		e.mu.Lock()
		e.paid = append(e.paid, inv)
		e.mu.Unlock()
	})
	return e
}

// callback is Thiqa's callback endpoint as the API serves it.
func (e *env) callback(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	_, err := e.svc.HandleCallback(r.Context(), r.Header, body)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, payments.ErrCallback):
		http.Error(w, err.Error(), http.StatusUnauthorized)
	case errors.Is(err, payments.ErrMismatch):
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
	case errors.Is(err, payments.ErrState):
		http.Error(w, err.Error(), http.StatusConflict)
	default:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (e *env) paidCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.paid)
}

func (e *env) invoice(t *testing.T, ref string, fils int64) payments.Invoice {
	t.Helper()
	inv, err := e.svc.CreateInvoice(ctx, payments.InvoiceRequest{Reference: ref, Payer: payer, AmountFils: fils,
		DescriptionEn: "Birth certificate", DescriptionAr: "شهادة ميلاد"})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// pay opens the checkout page and submits the form as a browser would.
func pay(t *testing.T, checkoutURL, card, action string) (int, string) {
	t.Helper()
	resp, err := http.Get(checkoutURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `<form method="post">`) {
		t.Fatalf("checkout page: %d\n%s", resp.StatusCode, page)
	}
	resp, err = http.PostForm(checkoutURL, url.Values{"card": {card}, "action": {action}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) post(t *testing.T, h http.Header, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest("POST", e.thiqa.URL+"/callback", bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func callbackBody(inv, txn string, fils int64, currency string) []byte {
	b, _ := json.Marshal(sandbox.Callback{Type: payments.EventPaid, TransactionID: txn, InvoiceID: inv, AmountFils: fils, Currency: currency, Created: time.Now().UTC()})
	return b
}

func TestPayThroughCheckout(t *testing.T) {
	e := newEnv(t, payments.Options{})
	inv := e.invoice(t, "req-1", 2000)
	if again := e.invoice(t, "req-1", 2000); again.ID != inv.ID {
		t.Fatalf("a second invoice %s for the same reference", again.ID)
	}
	if _, err := e.svc.CreateInvoice(ctx, payments.InvoiceRequest{Reference: "req-1", Payer: payer, AmountFils: 1}); !errors.Is(err, payments.ErrState) {
		t.Fatalf("same reference, other amount: %v", err)
	}
	if _, err := e.svc.Checkout(ctx, inv.ID, "9990000000"); !errors.Is(err, payments.ErrForbidden) {
		t.Fatalf("checkout by another citizen: %v", err)
	}
	u, err := e.svc.Checkout(ctx, inv.ID, payer)
	if err != nil || !strings.HasPrefix(u, e.gateway.URL+"/checkout/") {
		t.Fatalf("checkout = %q, %v", u, err)
	}
	if code, page := pay(t, u, "1234 5678 9012 3456", "pay"); code != 400 || !strings.Contains(page, "not valid") {
		t.Fatalf("bad card number: %d\n%s", code, page)
	}
	if code, page := pay(t, u, "4000 0000 0000 0002", "pay"); code != 200 || !strings.Contains(page, "declined") {
		t.Fatalf("declined card: %d\n%s", code, page)
	}
	if ok, _ := e.svc.Paid(ctx, inv.ID); ok || e.paidCount() != 0 {
		t.Fatal("a declined payment marked the invoice paid")
	}
	code, page := pay(t, u, "4242 4242 4242 4242", "pay")
	if code != 200 || !strings.Contains(page, "Payment accepted") {
		t.Fatalf("pay: %d\n%s", code, page)
	}
	got, err := e.svc.Invoice(ctx, inv.ID)
	if err != nil || got.State != store.InvoicePaid || got.GatewayTxn == "" || got.Paid.IsZero() {
		t.Fatalf("after paying: %+v, %v", got, err)
	}
	if ok, _ := e.svc.Paid(ctx, inv.ID); !ok || e.paidCount() != 1 {
		t.Fatalf("Paid = %v, told %d times", ok, e.paidCount())
	}
	resp, err := http.PostForm(e.gateway.URL+"/checkout/nope", url.Values{"card": {sandbox.CardPays}, "action": {"pay"}})
	if err != nil || resp.StatusCode != 404 {
		t.Fatalf("unknown checkout: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := e.svc.Checkout(ctx, inv.ID, payer); !errors.Is(err, payments.ErrState) {
		t.Fatalf("checkout of a paid invoice: %v", err)
	}
}

// TestCallbackAbuse sends forged, stale, wrong and repeated callbacks:
// each is refused or absorbed, and only the one genuine payment counts.
func TestCallbackAbuse(t *testing.T) {
	e := newEnv(t, payments.Options{})
	inv := e.invoice(t, "req-2", 5000)
	u1, _ := e.svc.Checkout(ctx, inv.ID, payer)
	u2, _ := e.svc.Checkout(ctx, inv.ID, payer) // a second tab
	genuine := callbackBody(inv.ID, "txn_forged", 5000, "JOD")
	wrongKey := make([]byte, 32)
	tests := []struct {
		name string
		h    http.Header
		body []byte
		want int
	}{
		{"no signature", http.Header{}, genuine, 401},
		{"signed with another key", sandbox.Sign(wrongKey, genuine, time.Now()), genuine, 401},
		{"body changed after signing", sandbox.Sign(e.secret, genuine, time.Now()), callbackBody(inv.ID, "txn_forged", 1, "JOD"), 401},
		{"stale timestamp (replay)", sandbox.Sign(e.secret, genuine, time.Now().Add(-10*time.Minute)), genuine, 401},
		{"future timestamp", sandbox.Sign(e.secret, genuine, time.Now().Add(10*time.Minute)), genuine, 401},
		{"wrong amount", nil, callbackBody(inv.ID, "txn_a", 4999, "JOD"), 422},
		{"wrong currency", nil, callbackBody(inv.ID, "txn_b", 5000, "USD"), 422},
		{"unknown invoice", nil, callbackBody("inv_nope", "txn_c", 5000, "JOD"), 422},
		{"not JSON", nil, []byte("amount=5000"), 401},
		{"unknown field", nil, []byte(`{"type":"payment.succeeded","transaction_id":"t","invoice_id":"` + inv.ID + `","amount_fils":5000,"currency":"JOD","admin":true}`), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			if h == nil {
				h = sandbox.Sign(e.secret, tt.body, time.Now())
			}
			if got := e.post(t, h, tt.body); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
			if cur, _ := e.svc.Invoice(ctx, inv.ID); cur.State != store.InvoiceOpen || cur.Version != 1 {
				t.Fatalf("the invoice changed: %+v", cur)
			}
		})
	}
	// The genuine payment, then the same callback replayed within the
	// window: charged once, told once.
	if code, page := pay(t, u1, sandbox.CardPays, "pay"); code != 200 || !strings.Contains(page, "accepted") {
		t.Fatalf("pay: %d %s", code, page)
	}
	paid, _ := e.svc.Invoice(ctx, inv.ID)
	replay := callbackBody(inv.ID, paid.GatewayTxn, 5000, "JOD")
	for range 2 {
		if got := e.post(t, sandbox.Sign(e.secret, replay, time.Now()), replay); got != 200 {
			t.Fatalf("replayed callback: %d, want 200 (already applied)", got)
		}
	}
	if cur, _ := e.svc.Invoice(ctx, inv.ID); cur.Version != paid.Version || e.paidCount() != 1 {
		t.Fatalf("replay changed the invoice (%d -> %d) or told again (%d)", paid.Version, cur.Version, e.paidCount())
	}
	// Paying again in the second tab: the gateway takes the money, Thiqa
	// refuses the second payment and reconciliation shows it.
	code, page := pay(t, u2, sandbox.CardPays, "pay")
	if code != 200 || !strings.Contains(page, "not confirmed") {
		t.Fatalf("double payment: %d %s", code, page)
	}
	if cur, _ := e.svc.Invoice(ctx, inv.ID); cur.Version != paid.Version || cur.GatewayTxn != paid.GatewayTxn {
		t.Fatalf("the double payment changed the invoice: %+v", cur)
	}
	rep, err := e.svc.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Matched) != 1 || len(rep.MissingInThiqa) != 1 || rep.MissingInThiqa[0].InvoiceID != inv.ID || rep.Clean() {
		t.Fatalf("report %+v", rep)
	}
	// The double payment is given back at the gateway's side by an
	// operator; Thiqa's refunds go through its own invoice.
}

func TestRefundsAndReconcile(t *testing.T) {
	e := newEnv(t, payments.Options{})
	inv := e.invoice(t, "req-3", 10000)
	if _, err := e.svc.Refund(ctx, inv.ID, 1000, "x", "officer:test"); !errors.Is(err, payments.ErrState) {
		t.Fatalf("refund of an open invoice: %v", err)
	}
	u, _ := e.svc.Checkout(ctx, inv.ID, payer)
	pay(t, u, sandbox.CardPays, "pay")
	tests := []struct {
		name  string
		fils  int64
		err   error
		state string
		left  int64
	}{
		{"zero", 0, payments.ErrInvalid, store.InvoicePaid, 10000},
		{"more than paid", 10001, payments.ErrInvalid, store.InvoicePaid, 10000},
		{"partial", 4000, nil, store.InvoicePaid, 6000},
		{"more than left", 6001, payments.ErrInvalid, store.InvoicePaid, 6000},
		{"the rest", 6000, nil, store.InvoiceRefunded, 0},
		{"after full refund", 1, payments.ErrState, store.InvoiceRefunded, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.svc.Refund(ctx, inv.ID, tt.fils, "service not delivered", "officer:test")
			if !errors.Is(err, tt.err) {
				t.Fatalf("refund %d: %v, want %v", tt.fils, err, tt.err)
			}
			cur, _ := e.svc.Invoice(ctx, inv.ID)
			if cur.State != tt.state || cur.AmountFils-cur.RefundedFils != tt.left || (err == nil && got.Version != cur.Version) {
				t.Fatalf("after refund: %+v", cur)
			}
		})
	}
	rep, err := e.svc.Reconcile(ctx)
	if err != nil || !rep.Clean() || len(rep.Matched) != 1 || rep.Matched[0].GatewayRefunded != 10000 {
		t.Fatalf("report %+v, %v", rep, err)
	}
}

func TestReceiptIsSealed(t *testing.T) {
	keys, cst := testenv.Keys(t), testenv.Bolt(t)
	authority := testenv.CA(t, keys, cst, ca.Options{})
	sl, err := seal.Provision(ctx, keys, authority, cst, seal.Identity{Name: "platform", Organization: "Thiqa Platform",
		OrganizationAr: "منصة ثقة", OrgIdentifier: "GOVJO-1000"}, seal.ProvisionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, payments.Options{Sealer: sl, VerifyBaseURL: "https://thiqa.example.jo/verify/?sig="})
	inv := e.invoice(t, "req-4", 2500)
	if _, err := e.svc.Receipt(ctx, inv.ID, payer); !errors.Is(err, payments.ErrState) {
		t.Fatalf("receipt of an open invoice: %v", err)
	}
	u, _ := e.svc.Checkout(ctx, inv.ID, payer)
	pay(t, u, sandbox.CardPays, "pay")
	if _, err := e.svc.Receipt(ctx, inv.ID, "9990000000"); !errors.Is(err, payments.ErrForbidden) {
		t.Fatalf("receipt for another citizen: %v", err)
	}
	pdf, err := e.svc.Receipt(ctx, inv.ID, payer)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := authority.AuthorityCertificate("root")
	rep, err := validate.Validate(ctx, bytes.NewReader(pdf), int64(len(pdf)), &validate.Options{TrustAnchors: []*x509.Certificate{root}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indication != validate.TotalPassed || len(rep.Signatures) != 1 || rep.Signatures[0].Level != "B-LT" {
		j, _ := json.MarshalIndent(rep, "", " ")
		t.Fatalf("validator: %s\n%s", rep.Indication, j)
	}
	path := filepath.Join(t.TempDir(), "receipt.pdf")
	os.WriteFile(path, pdf, 0o600)
	out, err := exec.Command(testtool.Require(t, "pdfsig"), "-nocert", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature is Valid") {
		t.Fatalf("pdfsig: %v\n%s", err, out)
	}
	text, err := exec.Command(testtool.Require(t, "pdftotext"), path, "-").CombinedOutput()
	if err != nil || !regexp.MustCompile(`2\.500 JOD`).Match(text) || !strings.Contains(string(text), inv.ID) || !strings.Contains(string(text), "ثقة") {
		t.Fatalf("pdftotext: %v\n%s", err, text)
	}
}

// recorder is an audit log that keeps its events.
type recorder struct {
	mu     sync.Mutex
	events []audit.Event
}

func (r *recorder) Append(_ context.Context, e audit.Event) (audit.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return audit.Receipt{}, nil
}

// TestAuditRecords: payments, refused authentic callbacks and refunds are
// audited, naming invoices and never the citizen; callbacks that are not
// authentic are only logged.
func TestAuditRecords(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, payments.Options{Audit: rec})
	inv := e.invoice(t, "req-5", 1500)
	forged := callbackBody(inv.ID, "txn_f", 1500, "JOD")
	if got := e.post(t, sandbox.Sign(make([]byte, 32), forged, time.Now()), forged); got != 401 {
		t.Fatalf("forged: %d", got)
	}
	wrong := callbackBody(inv.ID, "txn_w", 1, "JOD")
	if got := e.post(t, sandbox.Sign(e.secret, wrong, time.Now()), wrong); got != 422 {
		t.Fatalf("wrong amount: %d", got)
	}
	u, _ := e.svc.Checkout(ctx, inv.ID, payer)
	pay(t, u, sandbox.CardPays, "pay")
	if _, err := e.svc.Refund(ctx, inv.ID, 500, "partly", "officer:root"); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range rec.events {
		actions = append(actions, ev.Actor+" "+ev.Action+" "+ev.Subject)
		if strings.Contains(ev.Actor+ev.Subject, payer) {
			t.Errorf("audit leaf names the citizen: %+v", ev)
		}
	}
	want := []string{"gateway:sandbox payment.callback.refused " + inv.ID, "gateway:sandbox payment.paid " + inv.ID, "officer:root payment.refund " + inv.ID}
	if strings.Join(actions, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit events:\n%s\nwant:\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
	}
	if cur, _ := e.svc.Invoice(ctx, inv.ID); cur.Refunds[0].By != "officer:root" {
		t.Fatalf("refund by %q", cur.Refunds[0].By)
	}
}
