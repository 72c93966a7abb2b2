package app_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/browsertest"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

const nid = "9861234567"

// TestCitizenActivatesApprovesAndDownloads is the citizen's part of the
// whole journey, in the app on a phone-sized screen: activation with the
// national number typed in Arabic-Indic digits and the officer's code, a
// passkey created by the browser's WebAuthn stack (CDP virtual
// authenticator), sign-in with it, one approval of an agency's two PDFs
// showing the same short code that the server bound into the challenge,
// downloads of both signed PDFs (TOTAL-PASSED), history, devices. Each main
// page is saved as a screenshot in Arabic and English.
func TestCitizenActivatesApprovesAndDownloads(t *testing.T) {
	e := newEnv(t)
	code := e.enrol(t, e.officer(t, "amal"), nid)
	c := newCitizen(t, e)

	c.open("/app/")
	c.view("welcome")
	if got := c.eval(`document.documentElement.lang + ' ' + document.documentElement.dir`); got != "ar rtl" {
		t.Fatalf("the app opens in %q, want Arabic right to left", got)
	}
	c.shots("welcome")

	// The code as a citizen may type it: lower case, no dash.
	start := time.Now()
	c.activate(arabicDigits(nid), strings.ToLower(strings.ReplaceAll(code, "-", " ")), "هاتف ليلى")
	c.view("activated")
	t.Logf("activation in the browser (form, passkey, certificates): %v", time.Since(start))
	if got := c.text("#activated-name"); got != "ليلى حداد" {
		t.Fatalf("activated page names %q", got)
	}
	c.shots("activated")
	creds, err := browsertest.Credentials(c.ctx, c.auth)
	if err != nil || len(creds) != 1 || !creds[0].IsResidentCredential {
		t.Fatalf("authenticator holds %v (%v), want one discoverable passkey", creds, err)
	}
	id, err := e.n.Enrollment.Identity(context.Background(), enrollment.Operator("test"), nid)
	if err != nil || id.State != store.IdentityActive || len(id.Devices) != 1 || id.Devices[0].Name != "هاتف ليلى" {
		t.Fatalf("identity after activation: %+v %v", id, err)
	}

	key := e.agency(t, "Land Department")
	req := e.send(t, key, nid)

	start = time.Now()
	c.click("#signin-after")
	c.view("requests")
	t.Logf("passkey sign-in to the pending list: %v", time.Since(start))
	// The session is the API's HttpOnly cookie: the page's script cannot
	// read it and keeps no token of its own.
	if got := c.eval(`document.cookie`); strings.Contains(got, "thiqa_session") {
		t.Fatalf("the session cookie is readable by script: %q", got)
	}
	if got := c.eval(`JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage)])`); got != `[["thiqa-lang"],[]]` {
		t.Fatalf("the app stores %s", got)
	}
	if got := c.text("#requests"); !strings.Contains(got, "عقد إيجار وملحقه") || !strings.Contains(got, "Land Department") {
		t.Fatalf("pending list shows %q", got)
	}
	c.shots("requests")

	c.click(fmt.Sprintf(`#requests li[data-id=%q] a`, req.ID))
	c.view("request")
	if got := c.text("#req-agency"); got != "Land Department" {
		t.Fatalf("request page names the agency %q", got)
	}
	if n := c.eval(`String(document.querySelectorAll('#req-docs li').length)`); n != "2" {
		t.Fatalf("request page lists %s documents, want 2", n)
	}
	c.shots("request")

	// The original is there to read before approving: opened in a new tab,
	// and downloaded.
	opened := chromedp.WaitNewTarget(c.ctx, func(i *target.Info) bool { return i.Type == "page" })
	c.click(`#req-docs li[data-doc="0"] a.open`)
	select {
	case id, ok := <-opened:
		if !ok {
			t.Fatal("no tab opened for the document")
		}
		tab, closeTab := chromedp.NewContext(c.ctx, chromedp.WithTargetID(id))
		var mime string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			got, err := browsertest.Run(t, tab, chromedp.Evaluate[string](`location.protocol + ' ' + document.contentType`))
			if mime = got; err == nil && got == "blob: application/pdf" {
				break
			}
		}
		closeTab()
		if mime != "blob: application/pdf" {
			t.Fatalf("the opened tab shows %q, want a PDF from a blob: URL", mime)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("opening the document opened no tab")
	}
	dl := browsertest.Downloads(t, c.ctx)
	c.click(`#req-docs li[data-doc="0"] a.download`)
	original := waitFile(t, filepath.Join(dl, "lease.pdf"))
	if !bytes.Equal(original, testenv.CorpusPDF(t, "testfile20.pdf")) {
		t.Fatal("the downloaded original differs from what the agency sent")
	}

	c.click("#approve")
	c.waitJS(`!document.getElementById('req-confirm').hidden`)
	shown := c.text("#short-code")
	if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(shown) {
		t.Fatalf("short code %q", shown)
	}
	c.shots("approve")
	start = time.Now()
	c.click("#confirm")
	c.waitJS(`document.querySelector('#req-state .state') && document.querySelector('#req-state .state').dataset.state === 'signed'`)
	t.Logf("approval to two signed PDFs shown: %v", time.Since(start))
	c.view("request")
	c.shots("signed")

	// The agency sees it signed, and the challenge the passkey signed gives
	// the code the app showed.
	var ev []store.SignEvidence
	if code := e.call(t, key, "GET", "/api/v1/sign-requests/"+req.ID+"/evidence", nil, &ev); code != 200 || len(ev) != 2 {
		t.Fatalf("evidence: %d %d records", code, len(ev))
	}
	if want := enrollment.ShortCode(ev[0].Challenge); want != shown {
		t.Fatalf("app showed %s, the approved challenge gives %s", shown, want)
	}

	for i, name := range []string{"lease-signed.pdf", "annex-signed.pdf"} {
		c.click(fmt.Sprintf(`#req-docs li[data-doc="%d"] a.download-signed`, i))
		pdf := waitFile(t, filepath.Join(dl, name))
		if ind, n := e.verdict(t, pdf); ind != "TOTAL-PASSED" || n != 1 {
			t.Fatalf("%s: %s with %d signatures, want TOTAL-PASSED with 1", name, ind, n)
		}
	}

	c.click(`#tabs a[data-tab="history"]`)
	c.view("history")
	if got := c.eval(`document.querySelector('#history li .state').dataset.state`); got != "signed" {
		t.Fatalf("history shows %q", got)
	}
	if n := c.eval(`String(document.querySelectorAll('#history a.download-signed').length)`); n != "2" {
		t.Fatalf("history offers %s signed downloads, want 2", n)
	}
	c.shots("history")

	c.click(`#tabs a[data-tab="devices"]`)
	c.view("devices")
	if got := c.text("#devices"); !strings.Contains(got, "هاتف ليلى") {
		t.Fatalf("devices page shows %q", got)
	}
	c.shots("devices")

	c.click(`#tabs a[data-tab="lost"]`)
	c.view("lost")
	c.shots("lost")
}

// waitFile waits for a download to finish and returns its bytes.
func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && bytes.HasPrefix(b, []byte("%PDF")) {
			return b
		}
		time.Sleep(100 * time.Millisecond)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	t.Fatalf("no download %s (directory has %v)", path, names)
	return nil
}

// TestActivationErrors: a mistyped number is caught in the page; a wrong
// code and then an expired code are refused by the server with a message in
// the citizen's language, and the identity stays enrolled, not active.
func TestActivationErrors(t *testing.T) {
	e := newEnv(t)
	code := e.enrol(t, e.officer(t, "amal"), nid)
	c := newCitizen(t, e)

	c.activate("98612345", code, "")
	c.waitJS(`!document.getElementById('nid-err').hidden`)
	if c.eval(`document.getElementById('nid').getAttribute('aria-invalid')`) != "true" || c.eval(`String(document.getElementById('error').hidden)`) != "true" {
		t.Fatal("a 8-digit national number was not flagged in the form")
	}
	c.shots("bad-number")

	wrong := "00000-00000"
	if wrong == code {
		wrong = "11111-11111"
	}
	c.activate(nid, wrong, "")
	if k := c.errorKey(); k != "err_code" {
		t.Fatalf("wrong code: app shows %q, want err_code", k)
	}
	c.shots("wrong-code")

	// The text of the officer's QR code, scanned into the code field,
	// fills in both fields; a link does too.
	c.open("/app/#/activate")
	c.view("activate")
	c.set("nid", "")
	c.eval(`(() => { const e = document.getElementById('code'); e.value = 'thiqa:activate?nid=` + nid + `&code=` + code + `';
		e.dispatchEvent(new Event('change', {bubbles: true})); return ''; })()`)
	if got := c.eval(`document.getElementById('nid').value + ' ' + document.getElementById('code').value`); got != nid+" "+code {
		t.Fatalf("after scanning the QR text the form holds %q", got)
	}
	c.open("/app/#/activate?nid=" + nid + "&code=" + code)
	c.view("activate")
	if got := c.eval(`document.getElementById('nid').value + ' ' + document.getElementById('code').value + ' ' + location.hash`); got != nid+" "+code+" #/activate" {
		t.Fatalf("after the link the form holds %q", got)
	}

	e.advance(16 * time.Minute) // the code lives 15 minutes
	c.activate(nid, code, "")
	if k := c.errorKey(); k != "err_code" {
		t.Fatalf("expired code: app shows %q, want err_code", k)
	}
	c.lang("en")
	if got := c.text("#error"); !strings.Contains(got, "expired") {
		t.Fatalf("English message %q does not mention expiry", got)
	}
	c.lang("ar")
	c.shots("expired-code")

	id, err := e.n.Enrollment.Identity(context.Background(), enrollment.Operator("test"), nid)
	if err != nil || id.State != store.IdentityEnrolled || len(id.Devices) != 0 {
		t.Fatalf("identity after refused activations: %+v %v", id, err)
	}
	if creds, _ := browsertest.Credentials(c.ctx, c.auth); len(creds) != 0 {
		t.Fatalf("a passkey was created for a refused code: %d", len(creds))
	}
}

// TestRejectAndFailedVerification: a citizen whose phone fails user
// verification approves nothing; assertions with a bad signature or without
// user verification are refused by the server; then the citizen rejects the
// request with a reason, and the agency sees it rejected. A lost phone reported in the
// app can no longer sign in.
func TestRejectAndFailedVerification(t *testing.T) {
	e := newEnv(t)
	code := e.enrol(t, e.officer(t, "amal"), nid)
	c := newCitizen(t, e)
	c.activate(nid, code, "")
	c.view("activated")
	key := e.agency(t, "Land Department")
	req := e.send(t, key, nid)
	c.signIn()

	c.open("/app/#/requests/" + req.ID)
	c.view("request")
	c.click("#approve")
	c.waitJS(`!document.getElementById('req-confirm').hidden`)
	if err := browsertest.SetUserVerified(c.ctx, c.auth, false); err != nil {
		t.Fatal(err)
	}
	c.click("#confirm")
	if k := c.errorKey(); k != "err_cancelled" {
		t.Fatalf("failed user verification: app shows %q", k)
	}
	var v signing.RequestView
	if e.call(t, key, "GET", "/api/v1/sign-requests/"+req.ID, nil, &v); v.State != store.SignPending {
		t.Fatalf("after a failed verification the request is %s", v.State)
	}
	if err := browsertest.SetUserVerified(c.ctx, c.auth, true); err != nil {
		t.Fatal(err)
	}

	// An assertion that reaches the server with a wrong signature, or
	// without the user-verified flag, is refused there; nothing is signed.
	for _, tc := range []struct {
		name         string
		bogus, badUV bool
	}{{"bad signature", true, false}, {"no user verification", false, true}} {
		if err := browsertest.Tamper(c.ctx, c.auth, tc.bogus, tc.badUV, false); err != nil {
			t.Fatal(err)
		}
		c.click("#cancel")
		c.click("#approve")
		c.waitJS(`!document.getElementById('req-confirm').hidden`)
		c.click("#confirm")
		if k := c.errorKey(); k != "err_passkey" {
			t.Fatalf("%s: app shows %q, want err_passkey", tc.name, k)
		}
		if e.call(t, key, "GET", "/api/v1/sign-requests/"+req.ID, nil, &v); v.State != store.SignPending {
			t.Fatalf("%s: request is %s", tc.name, v.State)
		}
	}
	c.shots("approval-refused")
	if err := browsertest.Tamper(c.ctx, c.auth, false, false, false); err != nil {
		t.Fatal(err)
	}

	c.click("#cancel")
	c.click("#reject")
	c.set("why", "الأجرة خاطئة")
	c.shots("reject")
	c.click("#reject-submit")
	c.waitJS(`document.querySelector('#req-state .state') && document.querySelector('#req-state .state').dataset.state === 'rejected'`)
	if e.call(t, key, "GET", "/api/v1/sign-requests/"+req.ID, nil, &v); v.State != store.SignRejected || v.Reason != "الأجرة خاطئة" {
		t.Fatalf("agency sees %s (%q), want rejected with the reason", v.State, v.Reason)
	}
	if got := c.eval(`String(document.getElementById('req-actions').hidden)`); got != "true" {
		t.Fatal("a rejected request still offers approval")
	}
	c.shots("rejected")

	// Lost phone: the citizen disables the passkey (here from the same
	// phone); it signs in no more.
	c.click(`#tabs a[data-tab="lost"]`)
	c.view("lost")
	c.click(`#lost-devices input[type=radio]`)
	c.click("#lost-submit")
	c.waitJS(`!document.getElementById('notice').hidden`)
	id, err := e.n.Enrollment.Identity(context.Background(), enrollment.Operator("test"), nid)
	if err != nil || len(id.Devices) != 1 || !id.Devices[0].Disabled {
		t.Fatalf("after reporting the phone lost: %+v %v", id.Devices, err)
	}
	c.click("#signout")
	c.view("welcome")
	c.click("#signin")
	if k := c.errorKey(); k != "err_passkey" && k != "err_cancelled" {
		t.Fatalf("sign-in with a disabled passkey: app shows %q", k)
	}
	if got := c.eval(`document.body.dataset.view`); got != "welcome" {
		t.Fatalf("sign-in with a disabled passkey reached %q", got)
	}
}

// TestSuspendFromApp: a citizen with no other phone suspends their digital
// identity from the lost-phone page; they are signed out and the identity
// is suspended.
func TestSuspendFromApp(t *testing.T) {
	e := newEnv(t)
	code := e.enrol(t, e.officer(t, "amal"), nid)
	c := newCitizen(t, e)
	c.activateAndSignIn(nid, code, "")
	c.click(`#tabs a[data-tab="lost"]`)
	c.view("lost")
	c.click("#suspend")
	c.view("welcome")
	c.waitJS(`document.getElementById('notice').dataset.key === 'suspended_notice'`)
	c.shots("suspended")
	id, err := e.n.Enrollment.Identity(context.Background(), enrollment.Operator("test"), nid)
	if err != nil || id.State != store.IdentitySuspended {
		t.Fatalf("identity after suspension from the app: %s %v", id.State, err)
	}
	if got := c.eval(`String(document.getElementById('tabs').hidden)`); got != "true" {
		t.Fatal("the menu of a signed-in citizen is still shown")
	}
}

// TestNewPhoneThenLostPhone: signed in on a new phone with the old phone's
// passkey, the citizen adds a passkey on the new phone, then reports the old
// phone lost from the new one: the old passkey is disabled and the new one
// signs in and approves.
func TestNewPhoneThenLostPhone(t *testing.T) {
	e := newEnv(t)
	code := e.enrol(t, e.officer(t, "amal"), nid)
	c := newCitizen(t, e)
	old := c.auth
	c.activateAndSignIn(nid, code, "الهاتف القديم")

	// The old phone leaves; this browser is now the new phone.
	if err := browsertest.RemoveAuthenticator(c.ctx, old); err != nil {
		t.Fatal(err)
	}
	auth, err := browsertest.VirtualAuthenticator(c.ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.auth = auth
	c.click(`#tabs a[data-tab="devices"]`)
	c.view("devices")
	c.set("new-device", "الهاتف الجديد")
	c.click("#add-device")
	c.waitJS(`document.getElementById('notice').dataset.key === 'device_added_notice'`)
	c.view("devices")
	if n := c.eval(`String(document.querySelectorAll('#devices > li').length)`); n != "2" {
		t.Fatalf("devices page lists %s devices after adding one, want 2", n)
	}
	c.shots("two-devices")

	c.click(`#tabs a[data-tab="lost"]`)
	c.view("lost")
	c.click(`#lost-devices input[type=radio]`) // the first: the old phone
	c.click("#lost-submit")
	c.waitJS(`document.getElementById('notice').dataset.key === 'device_disabled_notice'`)
	id, err := e.n.Enrollment.Identity(context.Background(), enrollment.Operator("test"), nid)
	if err != nil || len(id.Devices) != 2 {
		t.Fatalf("devices: %+v %v", id.Devices, err)
	}
	for _, d := range id.Devices {
		if d.Disabled != (d.Name == "الهاتف القديم") {
			t.Fatalf("device %q disabled=%v", d.Name, d.Disabled)
		}
	}

	// The new phone signs in and approves.
	c.click("#signout")
	c.view("welcome")
	key := e.agency(t, "Civil Status")
	req := e.send(t, key, nid)
	c.click("#signin")
	c.view("requests")
	c.open("/app/#/requests/" + req.ID)
	c.view("request")
	c.click("#approve")
	c.waitJS(`!document.getElementById('req-confirm').hidden`)
	c.click("#confirm")
	c.waitJS(`document.querySelector('#req-state .state') && document.querySelector('#req-state .state').dataset.state === 'signed'`)

	// The devices page disables a passkey too, after a second tap.
	c.click(`#tabs a[data-tab="devices"]`)
	c.view("devices")
	c.click(`#devices > li button.disable`)
	if got := c.eval(`String(document.querySelector('#devices > li button.disable-confirm').hidden)`); got != "false" {
		t.Fatal("one tap on Disable did not ask for confirmation")
	}
	id, err = e.n.Enrollment.Identity(context.Background(), enrollment.Operator("test"), nid)
	if err != nil || id.Devices[1].Disabled {
		t.Fatalf("a passkey was disabled before confirmation: %+v %v", id.Devices, err)
	}
	c.click(`#devices > li button.disable-confirm`)
	c.waitJS(`!document.getElementById('notice').hidden || !document.getElementById('error').hidden`)
	id, err = e.n.Enrollment.Identity(context.Background(), enrollment.Operator("test"), nid)
	if err != nil || !id.Devices[0].Disabled || !id.Devices[1].Disabled {
		t.Fatalf("after disabling the new phone on the devices page: %+v %v", id.Devices, err)
	}
}

// TestSessionEnds: when the citizen's session has expired the app says so,
// shows the welcome page, and after a new passkey sign-in returns to where
// the citizen was.
func TestSessionEnds(t *testing.T) {
	e := newEnv(t)
	code := e.enrol(t, e.officer(t, "amal"), nid)
	c := newCitizen(t, e)
	c.activateAndSignIn(nid, code, "")
	c.click(`#tabs a[data-tab="devices"]`)
	c.view("devices")

	e.advance(16 * time.Minute) // citizen sessions last 15 minutes
	c.click(`#tabs a[data-tab="history"]`)
	c.view("welcome")
	if k := c.errorKey(); k != "err_session" {
		t.Fatalf("expired session: app shows %q, want err_session", k)
	}
	c.shots("session-ended")
	c.click("#signin")
	c.view("history")
}
