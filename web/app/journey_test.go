package app_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/browsertest"
	"github.com/thiqa/thiqa/store"
)

// TestWholeJourney is issue 10's journey, every person in a real Chromium:
// an administrator (bootstrapped as `thiqa admin officer add --role admin`
// does) creates a centre and an officer in /admin/; the officer signs in to
// /centre/ with password and TOTP and enrols a citizen, typing the national
// number in Arabic-Indic digits; the citizen activates in /app/ on a phone
// with the code and a passkey; an agency sends two PDFs through the API; the
// citizen approves both at once and downloads them; a clerk drops a
// downloaded signed PDF in /verify/ and reads TOTAL-PASSED in Arabic and in
// English, and a tampered copy fails.
func TestWholeJourney(t *testing.T) {
	e := startNode(t)
	ctx := context.Background()
	root, err := e.n.Enrollment.CreateOfficer(ctx, enrollment.Operator("test"),
		enrollment.NewOfficer{Username: "root", Role: store.RoleAdmin, Password: password})
	if err != nil {
		t.Fatal(err)
	}

	// The administrator creates the centre and the officer.
	admin := newStaff(t, e)
	admin.page("/admin/")
	admin.set("username", "root")
	admin.set("password", password)
	admin.set("totp", e.totp(t, root.TOTPURL))
	admin.submit(chromedp.Click(chromedp.CSS("#signin button[type=submit]"), chromedp.NodeVisible))
	admin.set("code", "IRB-01")
	admin.set("name_ar", "مركز إربد")
	admin.set("name_en", "Irbid centre")
	admin.set("governorate", "Irbid")
	admin.submit(chromedp.Click(chromedp.CSS("#new-centre button[type=submit]"), chromedp.NodeVisible))
	if got := admin.text("#centres"); !strings.Contains(got, "IRB-01") {
		t.Fatalf("centres table shows %q", got)
	}
	admin.set("o-username", "huda")
	admin.set("o-role", "officer")
	admin.set("o-centre", "IRB-01")
	admin.set("o-password", password)
	admin.submit(chromedp.Click(chromedp.CSS("#new-officer-form button[type=submit]"), chromedp.NodeVisible))
	totpURL := admin.text("#totp-url")
	if !strings.HasPrefix(totpURL, "otpauth://totp/") {
		t.Fatalf("new officer's TOTP shown as %q", totpURL)
	}
	browsertest.Screenshot(admin.ctx, t, "admin-officer-created")

	// The officer signs in and enrols the citizen.
	officer := newStaff(t, e)
	officer.page("/centre/")
	officer.set("username", "huda")
	officer.set("password", password)
	officer.set("totp", e.totp(t, totpURL))
	officer.submit(chromedp.Click(chromedp.CSS("#signin button[type=submit]"), chromedp.NodeVisible))
	officer.page("/centre/enrol")
	for id, v := range map[string]string{"national_id": arabicDigits(nid), "given_name_ar": "ليلى", "surname_ar": "حداد",
		"given_name": "Layla", "surname": "Haddad", "date_of_birth": arabicDigits("1990-04-12"), "doc_type": "national-id-card",
		"doc_number": "AB123456", "doc_expiry": "2031-01-01"} {
		officer.set(id, v)
	}
	officer.click("#doc_check-pass")
	officer.click("#face_match-pass")
	officer.submit(chromedp.Click(chromedp.CSS("#enrol button[type=submit]"), chromedp.NodeVisible))
	code := officer.text("#code")
	if len(code) != 11 {
		t.Fatalf("activation code shown as %q (page: %q)", code, officer.text("main"))
	}
	browsertest.Screenshot(officer.ctx, t, "centre-code")

	// The citizen activates in the app and signs in.
	c := newCitizen(t, e)
	c.activate(arabicDigits(nid), code, "هاتف ليلى")
	c.view("activated")
	c.click("#signin-after")
	c.view("requests")

	// The agency sends two PDFs; the citizen approves both at once.
	key := e.agency(t, "Land Department")
	req := e.send(t, key, nid)
	c.open("/app/#/requests/" + req.ID)
	c.view("request")
	c.click("#approve")
	c.waitJS(`!document.getElementById('req-confirm').hidden`)
	c.click("#confirm")
	c.waitJS(`document.querySelector('#req-state .state') && document.querySelector('#req-state .state').dataset.state === 'signed'`)
	creds, err := browsertest.Credentials(c.ctx, c.auth)
	if err != nil || len(creds) != 1 {
		t.Fatalf("authenticator holds %d passkeys (%v), want 1", len(creds), err)
	}
	// The virtual authenticator counts the registration, the sign-in and
	// one assertion for both documents.
	if creds[0].SignCount != 3 {
		t.Fatalf("passkey counter %v, want 3: registration, sign-in and one approval for both documents", creds[0].SignCount)
	}
	dl := browsertest.Downloads(t, c.ctx)
	var signed []string
	for i, name := range []string{"lease-signed.pdf", "annex-signed.pdf"} {
		c.click(`#req-docs li[data-doc="` + string(rune('0'+i)) + `"] a.download-signed`)
		waitFile(t, filepath.Join(dl, name))
		signed = append(signed, filepath.Join(dl, name))
	}

	// The clerk checks a signed PDF at /verify/, in both languages.
	clerk := newStaff(t, e)
	for _, lang := range []string{"ar", "en"} {
		clerk.page("/verify/?lang=" + lang)
		clerk.submit(chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{signed[0]}))
		if got := clerk.text("#verdict"); got != "TOTAL-PASSED" {
			t.Fatalf("%s: /verify/ says %q for the signed PDF", lang, got)
		}
		if got := clerk.eval(`document.documentElement.lang`); got != lang {
			t.Fatalf("verification page in %q, want %q", got, lang)
		}
		if got := clerk.text(".signature .signer"); !strings.Contains(got, "Layla") && !strings.Contains(got, "ليلى") {
			t.Fatalf("%s: signer shown as %q", lang, got)
		}
		browsertest.Screenshot(clerk.ctx, t, "verify-"+lang)
	}

	// A copy changed after signing does not pass.
	b, err := os.ReadFile(signed[1])
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("/Type"))
	if i < 0 {
		t.Fatal("no /Type in the signed PDF")
	}
	tampered := append([]byte(nil), b...)
	copy(tampered[i:], "/Typf")
	path := filepath.Join(t.TempDir(), "tampered.pdf")
	if err := os.WriteFile(path, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	clerk.page("/verify/?lang=en")
	clerk.submit(chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{path}))
	if got := clerk.text("#verdict"); got == "TOTAL-PASSED" || got == "" {
		t.Fatalf("/verify/ says %q for a tampered PDF", got)
	}
	browsertest.Screenshot(clerk.ctx, t, "verify-tampered-en")
}
