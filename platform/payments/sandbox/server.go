// Package sandbox is a payment gateway for tests and pilots, run as its own
// process (`thiqa sandbox-gateway`), and Thiqa's adapter for it
// ([Client], a payments.Gateway).
//
// The gateway has a checkout page (an HTML form with test card numbers:
// 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined) and calls
// Thiqa back with the outcome. Every message between the two programs is
// signed with a shared secret: HMAC-SHA256 over the timestamp and the body
// ([Sign], [Verify]), checked in constant time within a 5-minute window.
// It keeps its records in memory: it is a sandbox, not a bank.
//
// The gateway's side ([Server]) uses nothing of Thiqa but this package;
// the adapter imports only platform/payments. sandbox must not import api,
// web, cmd or the trust core's services directly.
package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Test cards.
const (
	CardPays     = "4242424242424242"
	CardDeclined = "4000000000000002"
)

// ServerOptions configure the gateway.
type ServerOptions struct {
	// Secret is shared with Thiqa (at least MinSecret bytes).
	Secret []byte
	// CallbackURL receives the signed outcome of every payment.
	CallbackURL string
	// PublicURL is the gateway's own base URL, for checkout links
	// (e.g. http://127.0.0.1:9090).
	PublicURL string
	Clock     func() time.Time
	Logger    *slog.Logger
	// HTTPClient sends callbacks; default one with a 10 s timeout.
	HTTPClient *http.Client
	// Retries is how many times a failed callback is sent again
	// (default 3).
	Retries int
}

// Server is the sandbox gateway. Safe for concurrent use.
type Server struct {
	opts ServerOptions

	mu        sync.Mutex
	checkouts map[string]*checkout
	txns      map[string]*txn
	refunds   map[string]refund // by idempotency key
}

type checkout struct {
	ID          string `json:"id"`
	InvoiceID   string `json:"invoice_id"`
	AmountFils  int64  `json:"amount_fils"`
	Currency    string `json:"currency"`
	Description string `json:"description"`
	ReturnURL   string `json:"return_url"`
	Txn         string `json:"transaction_id,omitempty"`
}

type txn struct {
	ID           string    `json:"id"`
	InvoiceID    string    `json:"invoice_id"`
	AmountFils   int64     `json:"amount_fils"`
	RefundedFils int64     `json:"refunded_fils"`
	Currency     string    `json:"currency"`
	State        string    `json:"state"`
	At           time.Time `json:"at"`
	Delivered    bool      `json:"callback_delivered"`
}

type refund struct {
	ID, Txn string
	Amount  int64
}

// NewServer returns the gateway.
func NewServer(opts ServerOptions) (*Server, error) {
	if len(opts.Secret) < MinSecret {
		return nil, fmt.Errorf("sandbox gateway: secret of %d bytes, want at least %d", len(opts.Secret), MinSecret)
	}
	if u, err := url.Parse(opts.CallbackURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sandbox gateway: callback URL %q: want http(s)://host/path", opts.CallbackURL)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Retries == 0 {
		opts.Retries = 3
	}
	opts.PublicURL = strings.TrimRight(opts.PublicURL, "/")
	return &Server{opts: opts, checkouts: map[string]*checkout{}, txns: map[string]*txn{}, refunds: map[string]refund{}}, nil
}

// Handler serves the gateway's API and checkout pages.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/checkouts", s.signed(s.createCheckout))
	mux.HandleFunc("POST /v1/refunds", s.signed(s.createRefund))
	mux.HandleFunc("GET /v1/transactions", s.signed(s.listTransactions))
	mux.HandleFunc("GET /checkout/{id}", s.checkoutPage)
	mux.HandleFunc("POST /checkout/{id}", s.pay)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	return mux
}

const maxBody = 64 << 10

// signed authenticates an API call from Thiqa before h.
func (s *Server) signed(h func(w http.ResponseWriter, r *http.Request, body []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			jsonError(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		// GET requests sign the path instead of a body.
		msg := body
		if r.Method == http.MethodGet {
			msg = []byte(r.URL.RequestURI())
		}
		if err := Verify(s.opts.Secret, r.Header, msg, s.opts.Clock()); err != nil {
			s.opts.Logger.Warn("sandbox: unauthenticated API call", "path", r.URL.Path, "reason", err.Error())
			jsonError(w, http.StatusUnauthorized, err.Error())
			return
		}
		h(w, r, body)
	}
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func newID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// CheckoutRequest is the body of POST /v1/checkouts.
type CheckoutRequest struct {
	InvoiceID   string `json:"invoice_id"`
	AmountFils  int64  `json:"amount_fils"`
	Currency    string `json:"currency"`
	Description string `json:"description,omitempty"`
	ReturnURL   string `json:"return_url,omitempty"`
}

// CheckoutResponse answers it.
type CheckoutResponse struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

func (s *Server) createCheckout(w http.ResponseWriter, r *http.Request, body []byte) {
	var req CheckoutRequest
	if err := decodeStrict(body, &req); err != nil {
		jsonError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	if req.InvoiceID == "" || req.AmountFils <= 0 || req.Currency != "JOD" || len(req.Description) > 500 {
		jsonError(w, http.StatusBadRequest, "want invoice_id, a positive amount_fils and currency JOD")
		return
	}
	if req.ReturnURL != "" {
		if u, err := url.Parse(req.ReturnURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			jsonError(w, http.StatusBadRequest, "return_url: want an http(s) URL")
			return
		}
	}
	c := &checkout{ID: newID("chk_"), InvoiceID: req.InvoiceID, AmountFils: req.AmountFils, Currency: req.Currency,
		Description: req.Description, ReturnURL: req.ReturnURL}
	s.mu.Lock()
	s.checkouts[c.ID] = c
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, CheckoutResponse{ID: c.ID, URL: s.opts.PublicURL + "/checkout/" + c.ID})
}

// RefundRequest is the body of POST /v1/refunds.
type RefundRequest struct {
	TransactionID  string `json:"transaction_id"`
	AmountFils     int64  `json:"amount_fils"`
	IdempotencyKey string `json:"idempotency_key"`
}

// RefundResponse answers it.
type RefundResponse struct {
	ID string `json:"id"`
}

func (s *Server) createRefund(w http.ResponseWriter, r *http.Request, body []byte) {
	var req RefundRequest
	if err := decodeStrict(body, &req); err != nil || req.IdempotencyKey == "" || req.AmountFils <= 0 {
		jsonError(w, http.StatusBadRequest, "want transaction_id, a positive amount_fils and idempotency_key")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rf, ok := s.refunds[req.IdempotencyKey]; ok {
		if rf.Txn != req.TransactionID || rf.Amount != req.AmountFils {
			jsonError(w, http.StatusConflict, "idempotency key used for another refund")
			return
		}
		writeJSON(w, http.StatusOK, RefundResponse{ID: rf.ID})
		return
	}
	t, ok := s.txns[req.TransactionID]
	switch {
	case !ok || t.State != "succeeded":
		jsonError(w, http.StatusNotFound, "no such successful transaction")
		return
	case req.AmountFils > t.AmountFils-t.RefundedFils:
		jsonError(w, http.StatusUnprocessableEntity, fmt.Sprintf("only %d fils left to refund", t.AmountFils-t.RefundedFils))
		return
	}
	t.RefundedFils += req.AmountFils
	rf := refund{ID: newID("rf_"), Txn: t.ID, Amount: req.AmountFils}
	s.refunds[req.IdempotencyKey] = rf
	s.opts.Logger.Info("sandbox: refund", "txn", t.ID, "amount_fils", req.AmountFils)
	writeJSON(w, http.StatusCreated, RefundResponse{ID: rf.ID})
}

func (s *Server) listTransactions(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.mu.Lock()
	out := make([]txn, 0, len(s.txns))
	for _, t := range s.txns {
		out = append(out, *t)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, out)
}

var page = template.Must(template.New("checkout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox checkout</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:32em;margin:2em auto}label,input,button{display:block;margin:.5em 0}.err{color:#a00}</style>
</head><body>
<h1>Sandbox payment gateway · بوابة الدفع التجريبية</h1>
<p>This is a test gateway: no real money moves.</p>
{{with .C}}<p>Invoice <code>{{.InvoiceID}}</code>{{if .Description}}: {{.Description}}{{end}}</p>
<p class="amount">Amount: <strong>{{$.Amount}} JOD</strong></p>{{end}}
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
{{if .Done}}<p id="result">{{.Done}}</p>{{if .C.ReturnURL}}<p><a href="{{.C.ReturnURL}}">Return to Thiqa · العودة</a></p>{{end}}
{{else}}<form method="post">
<label for="card">Card number · رقم البطاقة</label>
<input id="card" name="card" inputmode="numeric" autocomplete="cc-number" required>
<button name="action" value="pay">Pay · ادفع</button>
<button name="action" value="decline">Decline · ارفض</button>
</form>
<p>Test cards: 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined.</p>{{end}}
</body></html>
`))

type pageData struct {
	C      checkout
	Amount string
	Error  string
	Done   string
}

func (s *Server) render(w http.ResponseWriter, status int, d pageData) {
	d.Amount = fmt.Sprintf("%d.%03d", d.C.AmountFils/1000, d.C.AmountFils%1000)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	page.Execute(w, d)
}

func (s *Server) lookup(id string) (checkout, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.checkouts[id]
	if !ok {
		return checkout{}, false
	}
	return *c, true
}

func (s *Server) checkoutPage(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(r.PathValue("id"))
	if !ok {
		http.Error(w, "no such checkout", http.StatusNotFound)
		return
	}
	d := pageData{C: c}
	if c.Txn != "" {
		d.Done = "This checkout is already paid (transaction " + c.Txn + ")."
	}
	s.render(w, http.StatusOK, d)
}

// luhn reports whether number passes the Luhn check.
func luhn(number string) bool {
	sum, double := 0, false
	for i := len(number) - 1; i >= 0; i-- {
		d := int(number[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func cleanCard(s string) (string, bool) {
	s = strings.NewReplacer(" ", "", "-", "").Replace(s)
	if len(s) < 12 || len(s) > 19 {
		return "", false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return s, luhn(s)
}

func (s *Server) pay(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	c, ok := s.lookup(r.PathValue("id"))
	if !ok {
		http.Error(w, "no such checkout", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.render(w, http.StatusBadRequest, pageData{C: c, Error: "bad form"})
		return
	}
	if c.Txn != "" {
		s.render(w, http.StatusConflict, pageData{C: c, Done: "This checkout is already paid (transaction " + c.Txn + ")."})
		return
	}
	card, valid := cleanCard(r.PostFormValue("card"))
	action := r.PostFormValue("action")
	if action != "pay" && action != "decline" {
		s.render(w, http.StatusBadRequest, pageData{C: c, Error: "choose pay or decline"})
		return
	}
	if !valid {
		s.render(w, http.StatusBadRequest, pageData{C: c, Error: "Card number is not valid · رقم البطاقة غير صحيح"})
		return
	}
	state, kind := "succeeded", "payment.succeeded"
	if action == "decline" || card == CardDeclined {
		state, kind = "declined", "payment.declined"
	}
	t := &txn{ID: newID("txn_"), InvoiceID: c.InvoiceID, AmountFils: c.AmountFils, Currency: c.Currency, State: state, At: s.opts.Clock().UTC()}
	s.mu.Lock()
	if cur := s.checkouts[c.ID]; cur.Txn != "" {
		s.mu.Unlock()
		s.render(w, http.StatusConflict, pageData{C: c, Done: "This checkout is already paid (transaction " + cur.Txn + ")."})
		return
	}
	s.txns[t.ID] = t
	if state == "succeeded" {
		s.checkouts[c.ID].Txn = t.ID
	}
	s.mu.Unlock()
	s.opts.Logger.Info("sandbox: payment", "txn", t.ID, "invoice", t.InvoiceID, "state", state)
	delivered := s.callback(r.Context(), Callback{Type: kind, TransactionID: t.ID, InvoiceID: t.InvoiceID,
		AmountFils: t.AmountFils, Currency: t.Currency, Created: t.At})
	s.mu.Lock()
	t.Delivered = delivered
	s.mu.Unlock()
	d := pageData{C: c}
	switch {
	case state == "declined":
		d.Done = "Payment declined · تم رفض الدفع (transaction " + t.ID + ")."
	case delivered:
		d.Done = "Payment accepted · تم الدفع (transaction " + t.ID + ")."
	default:
		d.Done = "Payment taken (transaction " + t.ID + ") but Thiqa has not confirmed it yet."
	}
	s.render(w, http.StatusOK, d)
}

// Callback is the body the gateway posts to Thiqa.
type Callback struct {
	Type          string    `json:"type"`
	TransactionID string    `json:"transaction_id"`
	InvoiceID     string    `json:"invoice_id"`
	AmountFils    int64     `json:"amount_fils"`
	Currency      string    `json:"currency"`
	Created       time.Time `json:"created"`
}

// callback posts cb to Thiqa, again on failure; a 4xx answer is final.
func (s *Server) callback(ctx context.Context, cb Callback) bool {
	body, _ := json.Marshal(cb)
	for attempt := 0; attempt <= s.opts.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			case <-ctx.Done():
				return false
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.CallbackURL, bytes.NewReader(body))
		if err != nil {
			return false
		}
		for k, v := range Sign(s.opts.Secret, body, s.opts.Clock()) {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.opts.HTTPClient.Do(req)
		if err != nil {
			s.opts.Logger.Warn("sandbox: callback failed", "txn", cb.TransactionID, "error", err.Error())
			continue
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode < 300:
			return true
		case resp.StatusCode < 500:
			s.opts.Logger.Warn("sandbox: callback refused", "txn", cb.TransactionID, "status", resp.StatusCode)
			return false
		}
	}
	return false
}
