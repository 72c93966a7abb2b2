package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/thiqa/thiqa/internal/browsertest"
	"github.com/thiqa/thiqa/store"
)

func serve(t *testing.T, e *env) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e.srv, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return fmt.Sprintf("http://localhost:%d", l.Addr().(*net.TCPAddr).Port)
}

// tab starts Chromium and returns helpers bound to its first tab.
func tab(t *testing.T, e *env) *tabT {
	t.Helper()
	return &tabT{t: t, base: serve(t, e), ctx: browsertest.Start(t)}
}

// tabT is a Chromium tab on the env's pages, served on 127.0.0.1 and
// reached as http://localhost:<port> (a secure context, so the Secure
// cookies are kept).
type tabT struct {
	t    *testing.T
	base string
	ctx  context.Context
}

func (b *tabT) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	browsertest.Do(b.t, b.ctx, actions...)
}

// open loads path and waits for sel.
func (b *tabT) open(path, sel string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// fill sets the inputs' values (id → value).
func (b *tabT) fill(values map[string]string) {
	b.t.Helper()
	for id, v := range values {
		b.do(chromedp.SetValue(chromedp.CSS("#"+id), v))
	}
}

// submit clicks sel and waits for want on the next page.
func (b *tabT) submit(sel, want string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS(want)))
}

func (b *tabT) eval(expr string) string {
	b.t.Helper()
	s, err := browsertest.Run(b.t, b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return s
}

func (b *tabT) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(b.eval(fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ''`, sel)))
}

// checkLang checks the page's language and direction.
func (b *tabT) checkLang(lang string) {
	b.t.Helper()
	want := lang + " " + map[string]string{"ar": "rtl", "en": "ltr"}[lang]
	if got := b.eval(`document.documentElement.lang + ' ' + document.documentElement.dir`); got != want {
		b.t.Fatalf("page is %q, want %q", got, want)
	}
}

func (b *tabT) shot(name string) { browsertest.Screenshot(b.ctx, b.t, name) }

// TestBrowserCentre signs an officer in with TOTP, enrols a citizen and
// sees the code and its QR, then finds the identity, in Arabic and
// English, on a desktop and a phone-sized screen.
func TestBrowserCentre(t *testing.T) {
	e := newEnv(t)
	e.officer(t, "layla", store.RoleOfficer, "AMM-01")
	b := tab(t, e)
	for i, lang := range []string{"ar", "en"} {
		b.open("/centre/?lang="+lang, "#signin")
		b.checkLang(lang)
		b.shot("signin-" + lang)
		// A wrong code first.
		b.fill(map[string]string{"username": "layla", "password": testPassword, "totp": "123456"})
		b.submit(`#signin button[type=submit]`, "#error")
		if b.text("#error") == "" {
			t.Fatal("no error for a wrong code")
		}
		code := e.code(t, "layla")
		if lang == "ar" {
			code = strings.Map(func(r rune) rune { return '\u0660' + (r - '0') }, code)
		}
		b.fill(map[string]string{"username": "layla", "password": testPassword, "totp": code})
		b.submit(`#signin button[type=submit]`, "#find")
		b.shot("console-" + lang)

		b.submit("#enrol-link", "#enrol")
		nid := fmt.Sprintf("123456789%d", i)
		form := map[string]string{"national_id": nid, "given_name": "Omar", "surname": "Nasser", "given_name_ar": "عمر",
			"surname_ar": "ناصر", "date_of_birth": "١٩٩٠-٠٥-٢١", "doc_number": "AB123456", "doc_expiry": "2030-01-01"}
		if lang == "ar" {
			form["national_id"] = strings.Map(func(r rune) rune { return '\u0660' + (r - '0') }, nid)
		}
		// First with a Latin name in the Arabic field: the message is in
		// the officer's language.
		form["given_name_ar"] = "Omar"
		b.fill(form)
		b.do(chromedp.Click(chromedp.CSS("#doc_check-pass")), chromedp.Click(chromedp.CSS("#face_match-pass")))
		b.submit(`#enrol button[type=submit]`, "#given_name_ar-err")
		if got, want := b.text("#given_name_ar-err"), map[string]string{"ar": "بالأحرف العربية فقط.", "en": "Arabic letters only."}[lang]; got != want {
			t.Fatalf("validation message %q, want %q", got, want)
		}
		b.shot("enrol-invalid-" + lang)
		b.fill(map[string]string{"given_name_ar": "عمر"})
		b.submit(`#enrol button[type=submit]`, "#code")
		if c := b.text("#code"); len(c) < 6 {
			t.Fatalf("code %q", c)
		}
		if w := b.eval(`String(document.getElementById('qr').naturalWidth)`); w == "0" || w == "" {
			t.Fatalf("the QR image did not load (width %s)", w)
		}
		b.checkLang(lang)
		b.shot("code-" + lang)

		b.open("/centre/identity?nid="+nid, "#identity")
		if got := b.text("#state"); got != map[string]string{"ar": "مسجّلة، بانتظار التفعيل", "en": "enrolled, waiting for activation"}[lang] {
			t.Fatalf("state %q", got)
		}
		b.shot("identity-" + lang)
		b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		b.shot("identity-phone-" + lang)
		if w := b.eval(`String(document.documentElement.scrollWidth <= window.innerWidth + 1)`); w != "true" {
			t.Errorf("the identity page scrolls sideways on a phone")
		}
		b.do(chromedp.EmulateViewport(1280, 900))
		b.submit(`header form button[type=submit]`, "#signin")
	}
}

// TestBrowserVerify drops a good signed PDF (TOTAL-PASSED in both
// languages) and a tampered one (the page says what changed) on the
// verification page: one through the file input, one by drag and drop.
func TestBrowserVerify(t *testing.T) {
	e := newEnv(t)
	signed := signedPDF(t, e.pki)
	dir := t.TempDir()
	good := filepath.Join(dir, "signed.pdf")
	if err := os.WriteFile(good, signed, 0o644); err != nil {
		t.Fatal(err)
	}
	b := tab(t, e)
	for _, lang := range []string{"ar", "en"} {
		b.open("/verify/?lang="+lang, "#upload")
		b.checkLang(lang)
		b.shot("verify-" + lang)
		// Choosing the file sends it (verify.js).
		b.do(chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{good}), chromedp.WaitVisible(chromedp.CSS("#verdict")))
		if got := b.text("#verdict"); got != "TOTAL-PASSED" {
			t.Fatalf("%s: verdict %q", lang, got)
		}
		if got := b.text(".signature .signer"); !strings.Contains(got, "Test Signer") {
			t.Fatalf("signer %q", got)
		}
		b.checkLang(lang)
		b.shot("verify-passed-" + lang)

		// Drop the tampered file on the drop zone.
		b.open("/verify/?lang="+lang, "#upload")
		drop := fmt.Sprintf(`(() => {
			const bin = atob(%q); const bytes = new Uint8Array(bin.length);
			for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
			const dt = new DataTransfer(); dt.items.add(new File([bytes], 'tampered.pdf', {type: 'application/pdf'}));
			const zone = document.getElementById('drop');
			zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
			zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
			return 'dropped'; })()`, base64.StdEncoding.EncodeToString(tamper(t, signed)))
		b.eval(drop)
		b.do(chromedp.WaitVisible(chromedp.CSS("#verdict")))
		if got := b.text("#verdict"); got == "TOTAL-PASSED" {
			t.Fatal("tampered file passed")
		}
		want := map[string]string{"ar": "تغيّر محتوى صفحة", "en": "a page's content changed"}[lang]
		if got := b.text("#changes"); !strings.Contains(got, want) {
			t.Fatalf("changes say %q, want %q", got, want)
		}
		b.shot("verify-tampered-" + lang)
	}
}

// TestBrowserAdmin signs an administrator in and adds a centre, in both
// languages.
func TestBrowserAdmin(t *testing.T) {
	e := newEnv(t)
	e.officer(t, "root", store.RoleAdmin, "AMM-01")
	b := tab(t, e)
	for i, lang := range []string{"ar", "en"} {
		b.open("/admin/?lang="+lang, "#signin")
		b.checkLang(lang)
		b.shot("admin-signin-" + lang)
		b.fill(map[string]string{"username": "root", "password": testPassword, "totp": e.code(t, "root")})
		b.submit(`#signin button[type=submit]`, "#centres")
		code := fmt.Sprintf("ZRQ-0%d", i+1)
		b.fill(map[string]string{"code": code, "name_ar": "الزرقاء", "name_en": "Zarqa " + code, "governorate": "Zarqa"})
		b.submit(`#new-centre button[type=submit]`, "#notice")
		if got := b.text("#centres"); !strings.Contains(got, code) {
			t.Fatalf("centres %q", got)
		}
		b.checkLang(lang)
		b.shot("admin-" + lang)
		b.submit(`header form button[type=submit]`, "#signin")
	}
}

// TestBrowserRegistry fingerprints a signed PDF in the browser (Web
// Crypto) and finds it in the signature registry without uploading it.
func TestBrowserRegistry(t *testing.T) {
	e := newEnv(t)
	pdf := registeredPDF(t, e)
	file := filepath.Join(t.TempDir(), "lease-signed.pdf")
	if err := os.WriteFile(file, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pdf)
	b := tab(t, e)
	for _, lang := range []string{"ar", "en"} {
		b.open("/verify/?lang="+lang, "#hash-form")
		b.do(chromedp.SetUploadFiles(chromedp.CSS("#hash-file"), []string{file}), chromedp.WaitVisible(chromedp.CSS("#registry-found")))
		if got := b.eval(`document.getElementById('sha256').value`); got != hex.EncodeToString(sum[:]) {
			t.Fatalf("browser hash %q, want %x", got, sum)
		}
		want := map[string]string{"ar": "عمر ناصر", "en": "Omar Nasser"}[lang]
		if got := b.text("#registry-signer"); got != want {
			t.Fatalf("signer %q, want %q", got, want)
		}
		b.shot("registry-" + lang)
	}
}
