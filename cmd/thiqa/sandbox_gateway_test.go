package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/api"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/platform/payments"
	"github.com/thiqa/thiqa/platform/payments/sandbox"
	"github.com/thiqa/thiqa/store"
)

// callbackLog records the callbacks that reach Thiqa, for replaying.
type callbackLog struct {
	mu    sync.Mutex
	calls []capturedCall
}

type capturedCall struct {
	header http.Header
	body   []byte
	status int
}

func (l *callbackLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/payments/callback" {
			h.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		l.mu.Lock()
		l.calls = append(l.calls, capturedCall{header: r.Header.Clone(), body: body, status: rec.Code})
		l.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

func (l *callbackLog) last() capturedCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[len(l.calls)-1]
}

// payPage pays on the gateway's checkout page as a browser would.
func payPage(t *testing.T, checkout, card string) string {
	t.Helper()
	resp, err := http.Get(checkout)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Card number") {
		t.Fatalf("checkout page %d:\n%s", resp.StatusCode, page)
	}
	resp, err = http.PostForm(checkout, url.Values{"card": {card}, "action": {"pay"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestSandboxGatewayTwoProcesses pays fees through `thiqa sandbox-gateway`
// running as its own process, whose signed callbacks reach Thiqa's API on
// an httptest server; then abuses the callback and reconciles with `thiqa
// admin payments reconcile`.
func TestSandboxGatewayTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, code := run(t, nil, "init", "--data", data); code != 0 {
		t.Fatalf("init: %d\n%s", code, out)
	}
	st, err := store.OpenBolt(filepath.Join(data, "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var log callbackLog
	var svc *payments.Service
	thiqa := httptest.NewServer(log.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.New(api.Deps{Payments: svc}, api.Options{}).ServeHTTP(w, r)
	})))
	defer thiqa.Close()
	callback := thiqa.URL + "/api/v1/payments/callback"
	secretPath, secret := testenv.GatewaySecret(t, dir, "gateway.secret")
	gatewayURL := testenv.SandboxGateway(t, thiqaBin, secretPath, callback)
	client, err := sandbox.NewClient(gatewayURL, secret, sandbox.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc = payments.New(st, client, payments.Options{})
	ctx := context.Background()
	newInvoice := func(ref string, fils int64) payments.Invoice {
		inv, err := svc.CreateInvoice(ctx, payments.InvoiceRequest{Reference: ref, Payer: "9861234567", AmountFils: fils, DescriptionEn: "Passport renewal"})
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	postCallback := func(h http.Header, body []byte) int {
		req, _ := http.NewRequest("POST", callback, bytes.NewReader(body))
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

	// A payment through the other process.
	a := newInvoice("req-a", 50000)
	u, err := svc.Checkout(ctx, a.ID, "9861234567")
	if err != nil || !strings.HasPrefix(u, gatewayURL+"/checkout/") {
		t.Fatalf("checkout %q %v", u, err)
	}
	if page := payPage(t, u, "4242 4242 4242 4242"); !strings.Contains(page, "Payment accepted") {
		t.Fatalf("pay:\n%s", page)
	}
	paid, _ := svc.Invoice(ctx, a.ID)
	if paid.State != store.InvoicePaid || log.last().status != 200 {
		t.Fatalf("after paying: %+v, callback %d", paid, log.last().status)
	}

	// Abuse: the captured callback replayed, and forged ones.
	genuine := log.last()
	if got := postCallback(genuine.header, genuine.body); got != 200 {
		t.Fatalf("replay: %d, want 200 (already applied)", got)
	}
	forge := func(inv, txn string, fils int64) []byte {
		b, _ := json.Marshal(sandbox.Callback{Type: payments.EventPaid, TransactionID: txn, InvoiceID: inv, AmountFils: fils, Currency: "JOD", Created: time.Now()})
		return b
	}
	b := newInvoice("req-b", 3000)
	for _, tt := range []struct {
		name string
		h    http.Header
		body []byte
		want int
	}{
		{"wrong HMAC", sandbox.Sign(make([]byte, 32), forge(b.ID, "t1", 3000), time.Now()), forge(b.ID, "t1", 3000), 401},
		{"wrong amount", nil, forge(b.ID, "t2", 300), 422},
		{"wrong invoice", nil, forge("inv_unknown", "t3", 3000), 422},
		{"second payment of a paid invoice", nil, forge(a.ID, "t4", 50000), 409},
	} {
		h := tt.h
		if h == nil {
			h = sandbox.Sign(secret, tt.body, time.Now())
		}
		if got := postCallback(h, tt.body); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	if cur, _ := svc.Invoice(ctx, a.ID); cur.Version != paid.Version {
		t.Fatalf("invoice a changed: %+v", cur)
	}
	if cur, _ := svc.Invoice(ctx, b.ID); cur.State != store.InvoiceOpen || cur.Version != 1 {
		t.Fatalf("invoice b changed: %+v", cur)
	}

	// A gateway process with another secret: its callbacks are refused.
	rogueSecretPath, rogueSecret := testenv.GatewaySecret(t, dir, "rogue.secret")
	rogueURL := testenv.SandboxGateway(t, thiqaBin, rogueSecretPath, callback)
	rogue, _ := sandbox.NewClient(rogueURL, rogueSecret, sandbox.ClientOptions{})
	ru, err := rogue.Checkout(ctx, b, "")
	if err != nil {
		t.Fatal(err)
	}
	if page := payPage(t, ru, sandbox.CardPays); !strings.Contains(page, "not confirmed") || log.last().status != 401 {
		t.Fatalf("rogue gateway: callback %d\n%s", log.last().status, page)
	}
	if cur, _ := svc.Invoice(ctx, b.ID); cur.State != store.InvoiceOpen {
		t.Fatalf("a rogue gateway paid invoice b: %+v", cur)
	}

	// Double payment: two checkouts of invoice b, both paid at the gateway.
	u1, _ := svc.Checkout(ctx, b.ID, "9861234567")
	u2, _ := svc.Checkout(ctx, b.ID, "9861234567")
	if page := payPage(t, u1, sandbox.CardPays); !strings.Contains(page, "Payment accepted") {
		t.Fatalf("first payment of b:\n%s", page)
	}
	if page := payPage(t, u2, sandbox.CardPays); !strings.Contains(page, "not confirmed") || log.last().status != 409 {
		t.Fatalf("second payment of b: callback %d\n%s", log.last().status, page)
	}

	// Reconcile from the command line, the server's store closed.
	st.Close()
	out, code := run(t, nil, "admin", "payments", "reconcile", "--data", data, "--gateway-url", gatewayURL, "--secret-file", secretPath, "--json")
	var rep payments.Report
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &rep); err != nil || code != 3 {
		t.Fatalf("reconcile: exit %d %v\n%s", code, err, out)
	}
	if len(rep.Matched) != 2 || len(rep.MissingInThiqa) != 1 || rep.MissingInThiqa[0].InvoiceID != b.ID || len(rep.Mismatched)+len(rep.MissingAtGateway) != 0 {
		t.Fatalf("report:\n%s", out)
	}
	if out, code := run(t, nil, "admin", "payments", "reconcile", "--data", data); code == 0 || !strings.Contains(out, "--gateway-url") {
		t.Fatalf("offline reconcile without a gateway: exit %d\n%s", code, out)
	}
	if out, code := run(t, nil, "admin", "payments", "reconcile", "--data", data, "--gateway-url", gatewayURL, "--secret-file", rogueSecretPath); code == 0 || !strings.Contains(out, "401") {
		t.Fatalf("reconcile with the wrong secret: exit %d\n%s", code, out)
	}
}

func TestAdminCatalogueImportExport(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, code := run(t, nil, "init", "--data", data); code != 0 {
		t.Fatalf("init: %d\n%s", code, out)
	}
	sample := filepath.Join("..", "..", "testdata", "catalogue", "sample")
	steps := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"import CSV", []string{"import", sample + ".csv"}, 0, "31 created, 0 updated, 0 unchanged"},
		{"import JSONL again", []string{"import", sample + ".jsonl"}, 0, "0 created, 0 updated, 31 unchanged"},
		{"bad file", []string{"import", "--format", "csv", writeFile(t, dir, "bad.csv", "code,agency,name_ar,name_en,fee_fils,channel\nA-1,MOI,ا,a,1.5,online\n")}, 1, "line 2"},
		{"unknown format", []string{"import", writeFile(t, dir, "x.xml", "<x/>")}, 1, "want csv or jsonl"},
		{"missing file", []string{"import", filepath.Join(dir, "nope.csv")}, 1, "no such file"},
		{"export", []string{"export", "--format", "jsonl", "--out", filepath.Join(dir, "out.jsonl")}, 0, ""},
	}
	// Each good import draws its progress bar (stderr) to the end; the
	// bad file changes nothing (the export below equals the sample).
	full := regexp.MustCompile(`import \[#{30}\] 100%  [0-9.]+/[0-9.]+ KiB\n`)
	for _, s := range steps {
		out, code := run(t, nil, append([]string{"admin", "catalogue", "--data", data}, s.args...)...)
		if code != s.code || !strings.Contains(out, s.want) {
			t.Errorf("%s: exit %d, want %d and %q\n%s", s.name, code, s.code, s.want, out)
		}
		if strings.HasPrefix(s.name, "import") && !full.MatchString(out) {
			t.Errorf("%s: no full progress bar:\n%q", s.name, out)
		}
	}
	got, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	want, _ := os.ReadFile(sample + ".jsonl")
	if !bytes.Equal(got, want) {
		t.Errorf("export differs from the imported sample:\n%s", got)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServeWithSandboxGateway runs thiqa serve and thiqa sandbox-gateway
// as two processes wired by flags: the catalogue imported beforehand is
// served, and serve's callback endpoint checks the gateway's signatures.
func TestServeWithSandboxGateway(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, code := run(t, nil, "init", "--data", data); code != 0 {
		t.Fatalf("init: %d\n%s", code, out)
	}
	if out, code := run(t, nil, "admin", "catalogue", "import", "--data", data, filepath.Join("..", "..", "testdata", "catalogue", "sample.csv")); code != 0 {
		t.Fatalf("import: %d\n%s", code, out)
	}
	secretPath, secret := testenv.GatewaySecret(t, dir, "gateway.secret")
	short := writeFile(t, dir, "short.secret", "abcd\n")
	if out, code := run(t, nil, "serve", "--data", data, "--addr", freeAddr(t), "--payments-gateway", "http://127.0.0.1:1", "--payments-secret-file", short); code == 0 || !strings.Contains(out, "want at least 32") {
		t.Fatalf("serve with a short secret: exit %d\n%s", code, out)
	}
	addr := freeAddr(t)
	callback := "http://" + addr + "/api/v1/payments/callback"
	gatewayURL := testenv.SandboxGateway(t, thiqaBin, secretPath, callback)
	serve(t, data, addr, "--payments-gateway", gatewayURL, "--payments-secret-file", secretPath)

	var svc struct {
		FeeFils int64  `json:"fee_fils"`
		NameAr  string `json:"name_ar"`
	}
	if err := json.Unmarshal(get(t, "http://"+addr+"/api/v1/services/CSPD-001"), &svc); err != nil || svc.FeeFils != 2000 || svc.NameAr == "" {
		t.Fatalf("service: %+v %v", svc, err)
	}
	// The catalogue changes while serve runs, through its admin socket.
	sample, _ := os.ReadFile(filepath.Join("..", "..", "testdata", "catalogue", "sample.csv"))
	edited := writeFile(t, dir, "edited.csv", strings.Replace(string(sample), "Passport renewal,", "Passport renewal (online),", 1))
	for _, s := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"import", edited}, 0, "0 created, 1 updated, 30 unchanged"},
		{[]string{"import", "--format", "jsonl", writeFile(t, dir, "bad.jsonl", `{"code":"X"}`+"\n")}, 1, "line 1"},
		{[]string{"export", "--out", filepath.Join(dir, "running.csv")}, 0, ""},
	} {
		if out, code := run(t, nil, append([]string{"admin", "catalogue", "--data", data}, s.args...)...); code != s.code || !strings.Contains(out, s.want) {
			t.Errorf("catalogue %v while serving: exit %d, want %d and %q\n%s", s.args, code, s.code, s.want, out)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "running.csv")); !strings.Contains(string(got), "Passport renewal (online)") {
		t.Errorf("export while serving:\n%s", got)
	}
	if !strings.Contains(string(get(t, "http://"+addr+"/api/v1/services/CSPD-002")), "Passport renewal (online)") {
		t.Error("the API does not serve the catalogue imported while serving")
	}
	if out, code := run(t, nil, "admin", "payments", "reconcile", "--data", data, "--json"); code != 0 || !strings.Contains(out, `"matched": []`) {
		t.Errorf("reconcile while serving: exit %d\n%s", code, out)
	}

	body, _ := json.Marshal(sandbox.Callback{Type: payments.EventPaid, TransactionID: "txn_1", InvoiceID: "inv_nope", AmountFils: 2000, Currency: "JOD", Created: time.Now()})
	for _, tt := range []struct {
		name string
		key  []byte
		want int
	}{{"forged", make([]byte, 32), 401}, {"unknown invoice", secret, 422}} {
		req, _ := http.NewRequest("POST", callback, bytes.NewReader(body))
		for k, v := range sandbox.Sign(tt.key, body, time.Now()) {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s callback: %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
}
