package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/internal/problem"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/internal/testtool"
	"github.com/thiqa/thiqa/platform/catalogue"
	"github.com/thiqa/thiqa/platform/requests"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// fakePayments stands in for platform/payments: invoices are paid when
// the test says so.
type fakePayments struct {
	mu   sync.Mutex
	paid map[string]bool
	refs map[string]string
}

func (p *fakePayments) Invoice(_ context.Context, ref, _ string, amount int64, _, _ string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id, ok := p.refs[ref]; ok {
		return id, nil
	}
	id := fmt.Sprintf("inv_%d_%d", len(p.refs), amount)
	p.refs[ref] = id
	return id, nil
}

func (p *fakePayments) Paid(_ context.Context, id string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paid[id], nil
}

func (p *fakePayments) pay(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paid[id] = true
}

// auditTrail records what the service appends to the audit log.
type auditTrail struct {
	log *audit.Log
	mu  sync.Mutex
	ev  []audit.Event
}

func (a *auditTrail) Append(ctx context.Context, e audit.Event) (audit.Receipt, error) {
	a.mu.Lock()
	a.ev = append(a.ev, e)
	a.mu.Unlock()
	return a.log.Append(ctx, e)
}

func (a *auditTrail) actions(subject string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, e := range a.ev {
		if e.Subject == subject {
			out = append(out, e.Action)
		}
	}
	return out
}

// hookSink receives webhooks and checks their signatures.
type hookSink struct {
	mu     sync.Mutex
	secret []byte
	got    []requests.Webhook
	bad    int
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Header.Get("X-Thiqa-Signature") != signing.WebhookSignature(h.secret, r.Header.Get("X-Thiqa-Timestamp"), body) {
		h.bad++
		return
	}
	var wh requests.Webhook
	json.Unmarshal(body, &wh)
	h.got = append(h.got, wh)
}

// reqEnv is the signing environment with service requests wired in:
// a real catalogue, real per-agency e-seals from the organisation CA and
// the real validator; payments are faked (the end-to-end test in
// internal/node pays through the sandbox gateway).
type reqEnv struct {
	*signEnv
	rq         *requests.Service
	pay        *fakePayments
	trail      *auditTrail
	hooks      *hookSink
	validator  *validate.Validator
	moi, moj   signing.AgencyKey
	layla      *testPhone
	laylaTok   string
	omar       *testPhone
	omarTok    string
	officerTok string
}

func newReqEnv(t testing.TB) *reqEnv {
	t.Helper()
	e := &reqEnv{signEnv: newSignEnv(t), pay: &fakePayments{paid: map[string]bool{}, refs: map[string]string{}}}
	ctx := context.Background()
	e.hooks = &hookSink{}
	hook := httptest.NewServer(e.hooks)
	t.Cleanup(hook.Close)
	var err error
	if e.moi, err = e.signing.AddAgency(ctx, signing.NewAgency{Name: "MOI", Scopes: []string{signing.ScopeSignRequests}, WebhookURL: hook.URL}); err != nil {
		t.Fatal(err)
	}
	e.hooks.secret = []byte(e.moi.WebhookSecret)
	e.moj = e.agency(t, "MOJ", signing.ScopeSignRequests)
	cat := catalogue.New(e.st, catalogue.Options{})
	if _, err := cat.Put(ctx,
		catalogue.Service{Code: "MOI-PASSPORT", Agency: "MOI", NameAr: "تجديد جواز السفر", NameEn: "Passport renewal", FeeFils: 20000,
			Channel: store.ChannelOnline, SignatureRequired: true, Sealed: true, Documents: []string{"photo"}},
		catalogue.Service{Code: "MOJ-RECORD", Agency: "MOJ", NameAr: "شهادة عدم محكومية", NameEn: "Certificate of no criminal record",
			Channel: store.ChannelOnline, SignatureRequired: true, Sealed: true},
		catalogue.Service{Code: "MOJ-COURT", Agency: "MOJ", NameAr: "خدمة في المركز", NameEn: "A service at a centre",
			Channel: store.ChannelCentre, SignatureRequired: true},
		catalogue.Service{Code: "MOF-ORPHAN", Agency: "MOF", NameAr: "خدمة", NameEn: "A service of no registered agency",
			Channel: store.ChannelOnline, SignatureRequired: true},
	); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return *e.now }
	e.validator = &validate.Validator{Options: validate.Options{TrustAnchors: []*x509.Certificate{e.root}, Clock: clock}}
	e.trail = &auditTrail{log: e.audit}
	seals := &requests.AgencySeals{Keys: e.keys, Authority: e.ca, Certs: e.st, Store: e.st}
	seals.Options.Clock = clock
	e.rq, err = requests.New(requests.Deps{Store: e.st, Catalogue: requests.FromCatalogue(cat, e.st), Signing: e.signing,
		Identities: e.svc, Validator: e.validator, Payments: e.pay, Sealer: seals, Audit: e.trail}, requests.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.rq.Wait)
	e.srv.Requests = e.rq
	admin := e.officer(t, "", "root", store.RoleAdmin)
	e.officerTok = e.officer(t, admin, "omar", store.RoleOfficer)
	e.layla, e.laylaTok = e.citizen(t, e.officerTok, "9861234567")
	e.omar, e.omarTok = e.citizen(t, e.officerTok, "9867654321")
	return e
}

// open opens a request as the citizen.
func (e *reqEnv) open(t testing.TB, tok, code string) requests.View {
	t.Helper()
	var v requests.View
	if rec := e.call(t, "POST", "/api/v1/service-requests", tok, map[string]string{"service": code}, &v); rec.Code != 201 {
		t.Fatalf("open %s: %d %s", code, rec.Code, rec.Body)
	}
	return v
}

// signForm approves the request's sign request with the phone.
func (e *reqEnv) signForm(t testing.TB, ph *testPhone, tok string, v requests.View) {
	t.Helper()
	if code, body := e.approve(t, ph, tok, v.SignRequest); code != 200 {
		t.Fatalf("approve the form: %d %s", code, body)
	}
}

// submitted opens a request of Layla's, pays and signs it, and submits.
func (e *reqEnv) submitted(t testing.TB, code string) requests.View {
	t.Helper()
	v := e.open(t, e.laylaTok, code)
	if v.Invoice != "" {
		e.pay.pay(v.Invoice)
	}
	e.signForm(t, e.layla, e.laylaTok, v)
	if rec := e.call(t, "POST", "/api/v1/service-requests/"+v.ID+"/submit", e.laylaTok, nil, &v); rec.Code != 200 {
		t.Fatalf("submit: %d %s", rec.Code, rec.Body)
	}
	return v
}

func (e *reqEnv) pdf(t testing.TB, path, tok string) []byte {
	t.Helper()
	rec := e.call(t, "GET", path, tok, nil, nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/pdf" {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// TestServiceRequestFlow runs a fee-bearing request from opening to the
// sealed result, through the API validated against openapi.json.
func TestServiceRequestFlow(t *testing.T) {
	e := newReqEnv(t)
	c := newConformance(t)
	do := func(method, path, tok string, body any, out any) *httptest.ResponseRecorder {
		t.Helper()
		var raw []byte
		if body != nil {
			raw = mustJSON(t, body)
		}
		rec := c.do(t, e.srv, method, path, tok, raw, nil)
		if out != nil && rec.Code < 300 {
			if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
		return rec
	}
	var v requests.View
	if rec := do("POST", "/api/v1/service-requests", e.laylaTok, map[string]string{"service": "MOI-PASSPORT"}, &v); rec.Code != 201 {
		t.Fatalf("open: %d %s", rec.Code, rec.Body)
	}
	if v.State != store.RequestOpened || v.Invoice == "" || v.SignRequest == "" || v.FeeFils != 20000 || v.Agency != e.moi.Agency.ID {
		t.Fatalf("opened %+v", v)
	}
	base := "/api/v1/service-requests/" + v.ID
	form := c.do(t, e.srv, "GET", base+"/form", e.laylaTok, nil, nil).Body.Bytes()
	if h := sha256.Sum256(form); !bytes.Equal(h[:], v.FormSHA256) {
		t.Fatal("the form served is not the form hashed")
	}
	// The form the citizen is asked to sign is the form generated.
	var sr signing.RequestView
	e.call(t, "GET", "/api/v1/sign-requests/"+v.SignRequest, e.laylaTok, nil, &sr)
	if len(sr.Documents) != 1 || !bytes.Equal(sr.Documents[0].SHA256, v.FormSHA256) {
		t.Fatalf("sign request %+v", sr)
	}
	for _, step := range []struct {
		name   string
		before func()
		status int
		slug   string
	}{
		{"unpaid", func() {}, 402, "unpaid"},
		{"unsigned", func() { e.pay.pay(v.Invoice) }, 409, "unsigned"},
		{"paid and signed", func() { e.signForm(t, e.layla, e.laylaTok, v) }, 200, ""},
	} {
		step.before()
		rec := do("POST", base+"/submit", e.laylaTok, nil, &v)
		if rec.Code != step.status || (step.slug != "" && !strings.Contains(rec.Body.String(), "/"+step.slug+`"`)) {
			t.Fatalf("submit %s: %d %s", step.name, rec.Code, rec.Body)
		}
	}
	do("GET", "/api/v1/service-requests", e.laylaTok, nil, nil)
	do("GET", base, e.moi.Key, nil, nil)
	do("GET", base+"/signed-form", e.moi.Key, nil, nil)
	var q requests.Queue
	do("GET", "/api/v1/agency/service-requests?state=submitted&limit=10", e.moi.Key, nil, &q)
	if len(q.Requests) != 1 || q.Requests[0].ID != v.ID {
		t.Fatalf("queue %+v", q)
	}
	if rec := do("POST", base+"/accept", e.moi.Key, map[string]string{"note": "Collect the passport at the Amman office."}, &v); rec.Code != 200 {
		t.Fatalf("accept: %d %s", rec.Code, rec.Body)
	}
	result := c.do(t, e.srv, "GET", base+"/result", e.laylaTok, nil, nil).Body.Bytes()
	if h := sha256.Sum256(result); v.State != store.RequestAccepted || !bytes.Equal(h[:], v.ResultSHA256) {
		t.Fatalf("accepted %+v", v)
	}
	checkSealed(t, e, result, "GOVJO-MOI")

	// Every transition is recorded and audited; those from submission on
	// are sent to the agency.
	var got []string
	for _, tr := range v.Transitions {
		got = append(got, tr.From+">"+tr.To+" by "+strings.SplitN(tr.By, ":", 2)[0])
	}
	if want := ">opened by citizen|opened>submitted by citizen|submitted>accepted by agency"; strings.Join(got, "|") != want {
		t.Errorf("transitions %q, want %q", strings.Join(got, "|"), want)
	}
	if a := e.trail.actions("service-request:" + v.ID); strings.Join(a, " ") != "service-request.opened service-request.submitted service-request.accepted" {
		t.Errorf("audited %v", a)
	}
	e.rq.Wait()
	e.hooks.mu.Lock()
	if len(e.hooks.got) != 2 || e.hooks.bad != 0 || e.hooks.got[0].Event != "service-request.submitted" ||
		e.hooks.got[1].Event != "service-request.accepted" || e.hooks.got[1].RequestID != v.ID {
		t.Errorf("webhooks %+v (bad %d)", e.hooks.got, e.hooks.bad)
	}
	e.hooks.mu.Unlock()

	// A second request is cancelled, a third rejected.
	var w requests.View
	do("POST", "/api/v1/service-requests", e.laylaTok, map[string]string{"service": "MOJ-RECORD"}, &w)
	if rec := do("POST", "/api/v1/service-requests/"+w.ID+"/cancel", e.laylaTok, nil, &w); rec.Code != 200 || w.State != store.RequestCancelled {
		t.Fatalf("cancel: %d %s", rec.Code, rec.Body)
	}
	x := e.submitted(t, "MOJ-RECORD")
	if rec := do("POST", "/api/v1/service-requests/"+x.ID+"/reject", e.moj.Key, map[string]string{"reason": "The record needs a visit."}, &x); rec.Code != 200 || x.State != store.RequestRejected || x.Reason == "" {
		t.Fatalf("reject: %d %s", rec.Code, rec.Body)
	}
	for p, item := range c.doc.Paths.Map() {
		for m, o := range item.Operations() {
			if len(o.Tags) > 0 && o.Tags[0] == "requests" && !succeeded(c.seen[m+" "+p]) {
				t.Errorf("%s %s: no successful response validated (saw %v)", m, p, c.seen[m+" "+p])
			}
		}
	}
}

// checkSealed checks a result: the validator reports TOTAL-PASSED with an
// e-seal of the organisation, and pdfsig calls it valid.
func checkSealed(t *testing.T, e *reqEnv, pdf []byte, orgID string) {
	t.Helper()
	rep, err := e.validator.Validate(context.Background(), bytes.NewReader(pdf), int64(len(pdf)))
	if err != nil {
		t.Fatal(err)
	}
	// organizationIdentifier (2.5.4.97) as a PrintableString, as RFC 4514
	// writes attributes without a short name.
	oid := fmt.Sprintf("2.5.4.97=#13%02x%x", len(orgID), orgID)
	if rep.Indication != validate.TotalPassed || len(rep.Signatures) != 1 || rep.Signatures[0].Level != "B-LT" ||
		!strings.Contains(rep.Signatures[0].Signer.Subject, oid) || !strings.Contains(rep.Signatures[0].Signer.Issuer, "Organisation CA") {
		t.Fatalf("sealed result: %s %s %+v", rep.Indication, rep.SubIndication, rep.Signatures)
	}
	pdfsig := testtool.Require(t, "pdfsig")
	path := filepath.Join(t.TempDir(), "result.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdfsig, "-nocert", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature Validation: Signature is Valid.") {
		t.Fatalf("pdfsig: %v\n%s", err, out)
	}
}

// TestServiceRequestAbuse: each refusal changes nothing.
func TestServiceRequestAbuse(t *testing.T) {
	e := newReqEnv(t)
	logs := &syncBuffer{}
	e.srv.opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	var lastID string // the request ID of the last call
	call := func(method, path, tok string, body any) (int, string) {
		t.Helper()
		rec := e.call(t, method, path, tok, body, nil)
		lastID = rec.Header().Get("X-Request-Id")
		var p problem.Details
		json.Unmarshal(rec.Body.Bytes(), &p)
		return rec.Code, strings.TrimPrefix(p.Type, problem.TypeBase)
	}
	state := func(id string) (string, int) {
		t.Helper()
		var r store.ServiceRequest
		e.st.RequestsView(context.Background(), func(tx store.RequestsTx) (err error) {
			r, err = tx.ServiceRequest(id)
			return err
		})
		return r.State, len(r.Transitions)
	}
	sub := "/api/v1/service-requests/"
	for _, tc := range []struct {
		name   string
		run    func(t *testing.T) (int, string, string)
		status int
		slug   string
	}{
		{"citizen reads another's request", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			s, slug := call("GET", sub+v.ID, e.omarTok, nil)
			return s, slug, v.ID
		}, 404, "not-found"},
		{"citizen downloads another's form", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			s, slug := call("GET", sub+v.ID+"/form", e.omarTok, nil)
			return s, slug, v.ID
		}, 404, "not-found"},
		{"citizen submits another's request", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			e.signForm(t, e.layla, e.laylaTok, v)
			s, slug := call("POST", sub+v.ID+"/submit", e.omarTok, nil)
			return s, slug, v.ID
		}, 404, "not-found"},
		{"citizen cancels another's request", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			s, slug := call("POST", sub+v.ID+"/cancel", e.omarTok, nil)
			return s, slug, v.ID
		}, 404, "not-found"},
		{"citizen accepts their own request", func(t *testing.T) (int, string, string) {
			v := e.submitted(t, "MOJ-RECORD")
			s, slug := call("POST", sub+v.ID+"/accept", e.laylaTok, nil)
			return s, slug, v.ID
		}, 403, "forbidden"},
		{"agency accepts another agency's request", func(t *testing.T) (int, string, string) {
			v := e.submitted(t, "MOJ-RECORD")
			s, slug := call("POST", sub+v.ID+"/accept", e.moi.Key, nil)
			return s, slug, v.ID
		}, 404, "not-found"},
		{"agency rejects another agency's request", func(t *testing.T) (int, string, string) {
			v := e.submitted(t, "MOJ-RECORD")
			s, slug := call("POST", sub+v.ID+"/reject", e.moi.Key, map[string]string{"reason": "no"})
			return s, slug, v.ID
		}, 404, "not-found"},
		{"agency reads another agency's result", func(t *testing.T) (int, string, string) {
			v := e.submitted(t, "MOJ-RECORD")
			s, slug := call("GET", sub+v.ID+"/signed-form", e.moi.Key, nil)
			return s, slug, v.ID
		}, 404, "not-found"},
		{"agency reads a form before submission", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			s, slug := call("GET", sub+v.ID+"/form", e.moj.Key, nil)
			return s, slug, v.ID
		}, 404, "not-found"},
		{"agency reads a request before submission", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			s, slug := call("GET", sub+v.ID, e.moj.Key, nil)
			return s, slug, v.ID
		}, 404, "not-found"},
		{"queue of opened requests", func(t *testing.T) (int, string, string) {
			s, slug := call("GET", "/api/v1/agency/service-requests?state=opened", e.moj.Key, nil)
			return s, slug, ""
		}, 400, "invalid"},
		{"submit an unsigned form", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			s, slug := call("POST", sub+v.ID+"/submit", e.laylaTok, nil)
			return s, slug, v.ID
		}, 409, "unsigned"},
		{"upload the unsigned form as signed", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			form := e.pdf(t, sub+v.ID+"/form", e.laylaTok)
			s, slug := call("POST", sub+v.ID+"/submit", e.laylaTok, map[string]any{"signed_form": form})
			return s, slug, v.ID
		}, 409, "unsigned"},
		{"upload a signed form tampered after signing", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			e.signForm(t, e.layla, e.laylaTok, v)
			signed := e.pdf(t, "/api/v1/sign-requests/"+v.SignRequest+"/documents/0/signed", e.laylaTok)
			form := e.pdf(t, sub+v.ID+"/form", e.laylaTok)
			tampered := bytes.Clone(signed)
			tampered[len(form)+100] ^= 0x01 // inside the signed update
			s, slug := call("POST", sub+v.ID+"/submit", e.laylaTok, map[string]any{"signed_form": tampered})
			return s, slug, v.ID
		}, 422, "form-refused"},
		{"upload a form with its text changed", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			e.signForm(t, e.layla, e.laylaTok, v)
			signed := e.pdf(t, "/api/v1/sign-requests/"+v.SignRequest+"/documents/0/signed", e.laylaTok)
			tampered := bytes.Replace(signed, fmt.Appendf(nil, "<%X>", "9861234567"), fmt.Appendf(nil, "<%X>", "9861234568"), 1)
			if bytes.Equal(tampered, signed) {
				t.Fatal("the national number is not in the form")
			}
			s, slug := call("POST", sub+v.ID+"/submit", e.laylaTok, map[string]any{"signed_form": tampered})
			return s, slug, v.ID
		}, 422, "form-refused"},
		{"upload another signed document", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			var other signing.RequestView
			e.call(t, "POST", "/api/v1/sign-requests", e.laylaTok, signing.NewRequest{PurposeAr: "غرض", PurposeEn: "Other", Documents: threeDocuments(t)[:1]}, &other)
			if code, body := e.approve(t, e.layla, e.laylaTok, other.ID); code != 200 {
				t.Fatalf("approve: %d %s", code, body)
			}
			signed := e.pdf(t, "/api/v1/sign-requests/"+other.ID+"/documents/0/signed", e.laylaTok)
			s, slug := call("POST", sub+v.ID+"/submit", e.laylaTok, map[string]any{"signed_form": signed})
			return s, slug, v.ID
		}, 422, "form-refused"},
		{"upload the form signed by someone else", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			form := e.pdf(t, sub+v.ID+"/form", e.laylaTok)
			var other signing.RequestView
			e.call(t, "POST", "/api/v1/sign-requests", e.omarTok, signing.NewRequest{PurposeAr: "غرض", PurposeEn: "Layla's form",
				Documents: []signing.NewDocument{{Name: "form.pdf", Content: form}}}, &other)
			if code, body := e.approve(t, e.omar, e.omarTok, other.ID); code != 200 {
				t.Fatalf("approve: %d %s", code, body)
			}
			signed := e.pdf(t, "/api/v1/sign-requests/"+other.ID+"/documents/0/signed", e.omarTok)
			s, slug := call("POST", sub+v.ID+"/submit", e.laylaTok, map[string]any{"signed_form": signed})
			return s, slug, v.ID
		}, 422, "form-refused"},
		{"upload something that is not a PDF", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			s, slug := call("POST", sub+v.ID+"/submit", e.laylaTok, map[string]any{"signed_form": []byte("hello")})
			return s, slug, v.ID
		}, 400, "invalid"},
		{"accept before submission (not yet the agency's to see)", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			s, slug := call("POST", sub+v.ID+"/accept", e.moj.Key, nil)
			return s, slug, v.ID
		}, 404, "not-found"},
		{"accept a cancelled request", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			if s, _ := call("POST", sub+v.ID+"/cancel", e.laylaTok, nil); s != 200 {
				t.Fatalf("cancel: %d", s)
			}
			s, slug := call("POST", sub+v.ID+"/accept", e.moj.Key, nil)
			return s, slug, v.ID
		}, 404, "not-found"},
		{"reject a rejected request", func(t *testing.T) (int, string, string) {
			v := e.submitted(t, "MOJ-RECORD")
			if s, _ := call("POST", sub+v.ID+"/reject", e.moj.Key, map[string]string{"reason": "incomplete"}); s != 200 {
				t.Fatalf("reject: %d", s)
			}
			s, slug := call("POST", sub+v.ID+"/reject", e.moj.Key, map[string]string{"reason": "again"})
			return s, slug, v.ID
		}, 409, "wrong-state"},
		{"submit a cancelled request", func(t *testing.T) (int, string, string) {
			v := e.open(t, e.laylaTok, "MOJ-RECORD")
			e.signForm(t, e.layla, e.laylaTok, v)
			if s, _ := call("POST", sub+v.ID+"/cancel", e.laylaTok, nil); s != 200 {
				t.Fatalf("cancel: %d", s)
			}
			s, slug := call("POST", sub+v.ID+"/submit", e.laylaTok, nil)
			return s, slug, v.ID
		}, 409, "wrong-state"},
		{"accept twice", func(t *testing.T) (int, string, string) {
			v := e.submitted(t, "MOJ-RECORD")
			if s, _ := call("POST", sub+v.ID+"/accept", e.moj.Key, nil); s != 200 {
				t.Fatalf("first accept: %d", s)
			}
			s, slug := call("POST", sub+v.ID+"/accept", e.moj.Key, nil)
			return s, slug, v.ID
		}, 409, "wrong-state"},
		{"reject after acceptance", func(t *testing.T) (int, string, string) {
			v := e.submitted(t, "MOJ-RECORD")
			if s, _ := call("POST", sub+v.ID+"/accept", e.moj.Key, nil); s != 200 {
				t.Fatalf("accept: %d", s)
			}
			s, slug := call("POST", sub+v.ID+"/reject", e.moj.Key, map[string]string{"reason": "changed my mind"})
			return s, slug, v.ID
		}, 409, "wrong-state"},
		{"submit twice", func(t *testing.T) (int, string, string) {
			v := e.submitted(t, "MOJ-RECORD")
			s, slug := call("POST", sub+v.ID+"/submit", e.laylaTok, nil)
			return s, slug, v.ID
		}, 409, "wrong-state"},
		{"cancel a submitted request", func(t *testing.T) (int, string, string) {
			v := e.submitted(t, "MOJ-RECORD")
			s, slug := call("POST", sub+v.ID+"/cancel", e.laylaTok, nil)
			return s, slug, v.ID
		}, 409, "wrong-state"},
		{"reject without a reason", func(t *testing.T) (int, string, string) {
			v := e.submitted(t, "MOJ-RECORD")
			s, slug := call("POST", sub+v.ID+"/reject", e.moj.Key, map[string]string{"reason": "  "})
			return s, slug, v.ID
		}, 400, "invalid"},
		{"result that is not a PDF", func(t *testing.T) (int, string, string) {
			v := e.submitted(t, "MOJ-RECORD")
			s, slug := call("POST", sub+v.ID+"/accept", e.moj.Key, map[string]any{"result": []byte("<html>")})
			return s, slug, v.ID
		}, 400, "invalid"},
		{"result before acceptance", func(t *testing.T) (int, string, string) {
			v := e.submitted(t, "MOJ-RECORD")
			s, slug := call("GET", sub+v.ID+"/result", e.laylaTok, nil)
			return s, slug, v.ID
		}, 409, "wrong-state"},
		{"unknown service", func(t *testing.T) (int, string, string) {
			s, slug := call("POST", sub[:len(sub)-1], e.laylaTok, map[string]string{"service": "NOPE-1"})
			return s, slug, ""
		}, 404, "not-found"},
		{"service of no registered agency", func(t *testing.T) (int, string, string) {
			s, slug := call("POST", sub[:len(sub)-1], e.laylaTok, map[string]string{"service": "MOF-ORPHAN"})
			return s, slug, ""
		}, 404, "not-found"},
		{"service delivered at a centre", func(t *testing.T) (int, string, string) {
			s, slug := call("POST", sub[:len(sub)-1], e.laylaTok, map[string]string{"service": "MOJ-COURT"})
			return s, slug, ""
		}, 400, "invalid"},
		{"unknown field", func(t *testing.T) (int, string, string) {
			s, slug := call("POST", sub[:len(sub)-1], e.laylaTok, `{"service":"MOJ-RECORD","agency":"MOI"}`)
			return s, slug, ""
		}, 400, "bad-request"},
		{"queue of an unknown state", func(t *testing.T) (int, string, string) {
			s, slug := call("GET", "/api/v1/agency/service-requests?state=paid", e.moj.Key, nil)
			return s, slug, ""
		}, 400, "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, slug, id := tc.run(t)
			if status != tc.status || slug != tc.slug {
				t.Fatalf("%d %s, want %d %s", status, slug, tc.status, tc.slug)
			}
			// The refusal is logged: who, what and why, under the
			// request's ID, and never a credential.
			var refused, request map[string]any
			for _, line := range strings.Split(logs.String(), "\n") {
				var rec map[string]any
				if json.Unmarshal([]byte(line), &rec) != nil || rec["request_id"] != lastID {
					continue
				}
				switch rec["msg"] {
				case "refused":
					refused = rec
				case "request":
					request = rec
				}
			}
			if refused == nil || refused["level"] != "WARN" || refused["principal"] == "" || refused["err"] == "" || refused["path"] == "" {
				t.Errorf("the refusal is not logged: %v", refused)
			}
			if request == nil || request["status"] != float64(tc.status) {
				t.Errorf("request line %v, want status %d", request, tc.status)
			}
			for _, secret := range []string{e.laylaTok, e.omarTok, e.moi.Key, e.moj.Key} {
				if strings.Contains(logs.String(), secret) {
					t.Fatal("a credential is in the log")
				}
			}
			if id == "" {
				return
			}
			// The refusal changed nothing: the last audited transition is
			// the request's state.
			st, n := state(id)
			a := e.trail.actions("service-request:" + id)
			if len(a) != n || a[len(a)-1] != "service-request."+st {
				t.Errorf("after the refusal: state %s with %d transitions, audited %v", st, n, a)
			}
		})
	}
}

// TestServiceRequestDoubleAccept: agencies' officers accepting at once
// give one acceptance and one sealed result.
func TestServiceRequestDoubleAccept(t *testing.T) {
	e := newReqEnv(t)
	v := e.submitted(t, "MOI-PASSPORT")
	const n = 4
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.call(t, "POST", "/api/v1/service-requests/"+v.ID+"/accept", e.moi.Key, map[string]string{"note": fmt.Sprint("officer ", i)}, nil).Code
		}()
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case 200:
			ok++
		case 409:
		default:
			t.Errorf("accept: %d", c)
		}
	}
	if ok != 1 {
		t.Fatalf("%d acceptances (%v), want 1", ok, codes)
	}
	e.call(t, "GET", "/api/v1/service-requests/"+v.ID, e.laylaTok, nil, &v)
	if len(v.Transitions) != 3 {
		t.Errorf("transitions %+v", v.Transitions)
	}
	if a := e.trail.actions("service-request:" + v.ID); len(a) != 3 {
		t.Errorf("audited %v", a)
	}
}

// TestServiceRequestUploadedResult: the agency's own result document is
// sealed as it is (an incremental update after its bytes).
func TestServiceRequestUploadedResult(t *testing.T) {
	e := newReqEnv(t)
	v := e.submitted(t, "MOJ-RECORD")
	doc := testenv.CorpusPDF(t, "testfile12.pdf")
	if rec := e.call(t, "POST", "/api/v1/service-requests/"+v.ID+"/accept", e.moj.Key, map[string]any{"result": doc}, &v); rec.Code != 200 {
		t.Fatalf("accept: %d %s", rec.Code, rec.Body)
	}
	result := e.pdf(t, "/api/v1/service-requests/"+v.ID+"/result", e.laylaTok)
	if !bytes.HasPrefix(result, doc) || len(result) == len(doc) {
		t.Fatal("the result is not the agency's document followed by its seal")
	}
	checkSealed(t, e, result, "GOVJO-MOJ")
	if agency := e.pdf(t, "/api/v1/service-requests/"+v.ID+"/result", e.moj.Key); !bytes.Equal(agency, result) {
		t.Fatal("the agency downloads another result")
	}
}

// TestServiceRequestQueuePages walks the agency's queue page by page.
func TestServiceRequestQueuePages(t *testing.T) {
	e := newReqEnv(t)
	want := map[string]bool{}
	for range 3 {
		*e.now = e.now.Add(time.Second) // distinct creation times
		want[e.submitted(t, "MOJ-RECORD").ID] = true
	}
	e.open(t, e.laylaTok, "MOJ-RECORD") // opened: not in the queue
	seen := map[string]bool{}
	after, pages := "", 0
	for {
		var q requests.Queue
		if rec := e.call(t, "GET", "/api/v1/agency/service-requests?limit=2&after="+url.QueryEscape(after), e.moj.Key, nil, &q); rec.Code != 200 {
			t.Fatalf("queue: %d %s", rec.Code, rec.Body)
		}
		pages++
		for _, r := range q.Requests {
			if seen[r.ID] || !want[r.ID] || r.State != store.RequestSubmitted {
				t.Errorf("page %d: %s (%s)", pages, r.ID, r.State)
			}
			seen[r.ID] = true
		}
		if q.Next == "" {
			break
		}
		after = q.Next
	}
	if len(seen) != 3 || pages != 2 {
		t.Errorf("%d requests in %d pages, want 3 in 2", len(seen), pages)
	}
}
