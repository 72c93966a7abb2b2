package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/browsertest"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// env is a whole node served on 127.0.0.1 and reached by the browser as
// http://localhost:<port> (WebAuthn takes localhost as a secure origin and
// relying party, and not an IP address), with a clock that tests move.
type env struct {
	n      *node.Node
	url    string // for the browser
	api    string // for the Go client (the agency)
	offset atomic.Int64
	centre string
	srv    *http.Server
}

// stop stops serving, as a phone that lost its connection sees it.
func (e *env) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.srv.Shutdown(ctx)
}

func (e *env) now() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }

// advance moves the node's clock forward.
func (e *env) advance(d time.Duration) { e.offset.Add(int64(d)) }

// newEnv starts a node with one centre.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := startNode(t)
	_, err := e.n.Enrollment.CreateCentre(context.Background(), enrollment.Operator("test"),
		store.Centre{Code: e.centre, NameAr: "مركز عمّان", NameEn: "Amman centre", Governorate: "Amman"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// startNode starts a node with nothing in it but its key ceremony.
func startNode(t *testing.T) *env {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	e := &env{url: fmt.Sprintf("http://localhost:%d", port), api: fmt.Sprintf("http://127.0.0.1:%d", port), centre: "AMM-01"}
	n, _, err := node.Open(context.Background(), node.Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true,
		CA: ca.DefaultConfig(), Clock: e.now, WebAuthnRPID: "localhost", WebAuthnOrigins: []string{e.url}})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	e.n = n
	srv := &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 10 * time.Second}
	e.srv = srv
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		n.Close()
	})
	return e
}

const password = "correct horse battery staple"

// officer creates an officer and signs them in with password and TOTP.
func (e *env) officer(t *testing.T, user string) enrollment.Principal {
	t.Helper()
	ctx := context.Background()
	enr, err := e.n.Enrollment.CreateOfficer(ctx, enrollment.Operator("test"),
		enrollment.NewOfficer{Username: user, Role: store.RoleOfficer, Centre: e.centre, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	_, p, err := e.n.Enrollment.OfficerSignIn(ctx, user, password, e.totp(t, enr.TOTPURL))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// totp is the current code of the authenticator app set up with url.
func (e *env) totp(t *testing.T, url string) string {
	t.Helper()
	key, err := otp.NewKeyFromURL(url)
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(key.Secret(), e.now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enrol records a citizen's in-person check and returns the activation
// code.
func (e *env) enrol(t *testing.T, off enrollment.Principal, nid string) string {
	t.Helper()
	res, err := e.n.Enrollment.Enrol(context.Background(), off, enrollment.Proofing{NationalID: nid,
		GivenName: "Layla", Surname: "Haddad", GivenNameAr: "ليلى", SurnameAr: "حداد", DateOfBirth: "1990-04-12",
		DocType: "national-id-card", DocNumber: "AB123456", DocExpiry: "2031-01-01", DocCheck: "pass", FaceMatch: "pass"})
	if err != nil {
		t.Fatal(err)
	}
	return res.Code.Code
}

// agency registers an agency and returns its API key.
func (e *env) agency(t *testing.T, name string) string {
	t.Helper()
	k, err := e.n.Signing.AddAgency(context.Background(), signing.NewAgency{Name: name, Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		t.Fatal(err)
	}
	return k.Key
}

// call is the agency's HTTP client.
func (e *env) call(t *testing.T, key, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.api+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		t.Logf("%s %s: %s %s", method, path, resp.Status, b)
	}
	return resp.StatusCode
}

// send has the agency ask the citizen to sign two PDFs of the corpus.
func (e *env) send(t *testing.T, key, nid string) signing.RequestView {
	t.Helper()
	var v signing.RequestView
	code := e.call(t, key, "POST", "/api/v1/sign-requests", signing.NewRequest{NationalID: nid,
		PurposeAr: "عقد إيجار وملحقه", PurposeEn: "Lease contract and annex",
		Documents: []signing.NewDocument{{Name: "lease.pdf", Content: testenv.CorpusPDF(t, "testfile20.pdf")},
			{Name: "annex.pdf", Content: testenv.CorpusPDF(t, "testfile17.pdf")}}}, &v)
	if code != http.StatusCreated || len(v.Documents) != 2 {
		t.Fatalf("send sign request: %d %+v", code, v)
	}
	return v
}

// verdict posts a PDF to the public verification API and returns the
// report's indication and its number of signatures.
func (e *env) verdict(t *testing.T, pdf []byte) (string, int) {
	t.Helper()
	resp, err := http.Post(e.api+"/api/v1/verify", "application/pdf", bytes.NewReader(pdf))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep struct {
		Indication string            `json:"indication"`
		Signatures []json.RawMessage `json:"signatures"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &rep); err != nil || resp.StatusCode != 200 {
		t.Fatalf("verify: %s %v %.300s", resp.Status, err, b)
	}
	return rep.Indication, len(rep.Signatures)
}

// ---- browser steps ----------------------------------------------------

// citizen is a browser tab with a phone's passkey.
type citizen struct {
	t    *testing.T
	e    *env
	ctx  context.Context
	auth webauthn.AuthenticatorID
}

func newCitizen(t *testing.T, e *env) *citizen {
	t.Helper()
	ctx := browsertest.Start(t)
	auth, err := browsertest.VirtualAuthenticator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, ctx, browsertest.Phone())
	return &citizen{t: t, e: e, ctx: ctx, auth: auth}
}

func (c *citizen) do(actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	browsertest.Do(c.t, c.ctx, actions...)
}

// open loads the app afresh and waits until it has started.
func (c *citizen) open(path string) {
	c.t.Helper()
	c.do(chromedp.Navigate("about:blank"), chromedp.Navigate(c.e.url+path))
	c.waitJS(`document.body.dataset.ready === 'true'`)
}

// waitJS waits until the expression is true in the page.
func (c *citizen) waitJS(expr string) {
	c.t.Helper()
	// A navigation may replace the page's JavaScript context under the
	// poll; then poll again in the new one.
	deadline := time.Now().Add(25 * time.Second)
	for {
		_, err := browsertest.Run(c.t, c.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil {
			return
		}
		if time.Now().Before(deadline) && (strings.Contains(err.Error(), "Cannot find context") || strings.Contains(err.Error(), "context was destroyed")) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		c.t.Fatalf("waiting for %s: %v (page shows %q)", expr, err, c.text("main"))
	}
}

// view waits until the app shows the view and nothing is in flight.
func (c *citizen) view(name string) {
	c.t.Helper()
	c.waitJS(fmt.Sprintf(`document.body.dataset.view === %q && !document.body.hasAttribute('aria-busy')`, name))
}

func (c *citizen) text(sel string) string {
	c.t.Helper()
	s, err := browsertest.Run(c.t, c.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ''`, sel)))
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.TrimSpace(s)
}

func (c *citizen) eval(expr string) string {
	c.t.Helper()
	s, err := browsertest.Run(c.t, c.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		c.t.Fatalf("%s: %v", expr, err)
	}
	return s
}

// set types a value into an input as a person would (input and change
// events).
func (c *citizen) set(id, value string) {
	c.t.Helper()
	js, _ := json.Marshal([]string{id, value})
	got := c.eval(fmt.Sprintf(`((a) => { const e = document.getElementById(a[0]); e.focus(); e.value = a[1];
		e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); return e.value; })(%s)`, js))
	if got != value {
		c.t.Fatalf("#%s holds %q after typing %q", id, got, value)
	}
}

func (c *citizen) click(sel string) {
	c.t.Helper()
	c.do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// lang switches the language when it is not the wanted one.
func (c *citizen) lang(want string) {
	c.t.Helper()
	if c.eval(`document.documentElement.lang`) != want {
		c.click("#lang")
		c.waitJS(fmt.Sprintf(`document.documentElement.lang === %q && !document.body.hasAttribute('aria-busy') && document.body.dataset.view !== 'loading'`, want))
	}
}

// shots saves a screenshot of the page in Arabic and in English, and leaves
// the page in Arabic.
func (c *citizen) shots(name string) {
	c.t.Helper()
	for _, l := range []string{"ar", "en"} {
		c.lang(l)
		dir := map[string]string{"ar": "rtl", "en": "ltr"}[l]
		if got := c.eval(`document.documentElement.dir`); got != dir {
			c.t.Fatalf("%s in %s: dir=%q", name, l, got)
		}
		browsertest.Screenshot(c.ctx, c.t, name+"-"+l)
	}
	c.lang("ar")
}

// errorKey is the message the app shows, by catalogue key.
func (c *citizen) errorKey() string {
	c.t.Helper()
	c.waitJS(`!document.getElementById('error').hidden`)
	return c.eval(`document.getElementById('error').dataset.key || ''`)
}

// activate fills in the activation form and submits it.
func (c *citizen) activate(nid, code, device string) {
	c.t.Helper()
	c.open("/app/#/activate")
	c.view("activate")
	c.set("nid", nid)
	c.set("code", code)
	c.set("device", device)
	c.click("#activate-submit")
}

// signIn signs in with the passkey from the welcome page.
// activateAndSignIn activates nid with code on this phone, naming it
// device, and signs in from the page that confirms it.
func (c *citizen) activateAndSignIn(nid, code, device string) {
	c.t.Helper()
	c.activate(nid, code, device)
	c.view("activated")
	c.click("#signin-after")
	c.view("requests")
}

func (c *citizen) signIn() {
	c.t.Helper()
	c.open("/app/")
	c.view("welcome")
	c.click("#signin")
	c.view("requests")
}

// arabicDigits writes a number in Arabic-Indic digits.
func arabicDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '٠' + (r - '0')
		}
		return r
	}, s)
}

// newStaff is a desktop browser for an administrator, officer or clerk.
func newStaff(t *testing.T, e *env) *citizen {
	t.Helper()
	return &citizen{t: t, e: e, ctx: browsertest.Start(t)}
}

// page loads a server-rendered page.
func (c *citizen) page(path string) {
	c.t.Helper()
	c.do(chromedp.Navigate(c.e.url + path))
}

// submit runs the action (a click or a file choice that sends a form)
// and waits for the page that the server answers with.
func (c *citizen) submit(a chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, browsertest.StepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, a)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.Status >= 400 {
		c.t.Fatalf("%s answered %d (page shows %q)", resp.URL, resp.Status, c.text("main"))
	}
}
