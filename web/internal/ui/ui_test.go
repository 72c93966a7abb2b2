package ui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDigits(t *testing.T) {
	for in, want := range map[string]string{
		"١٢٣٤٥٦٧٨٩٠":   "1234567890",
		"۱۲۳۴۵۶۷۸۹۰":   "1234567890",
		" 2026-٠١-۰٢ ": "2026-01-02",
		"AB١2":         "AB12",
	} {
		if got := Digits(in); got != want {
			t.Errorf("Digits(%q) = %q, want %q", in, got, want)
		}
	}
	if got := ArabicDigits("2026-11-02"); got != "٢٠٢٦-١١-٠٢" {
		t.Errorf("ArabicDigits: %q", got)
	}
}

func TestDate(t *testing.T) {
	at := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	if got := Date(English, at); got != "2 Nov 2026, 12:30 Amman time" {
		t.Errorf("en: %q", got)
	}
	if got := Date(Arabic, at); got != "٢ تشرين الثاني ٢٠٢٦، ١٢:٣٠ بتوقيت عمّان" {
		t.Errorf("ar: %q", got)
	}
	if Date(Arabic, time.Time{}) != "—" {
		t.Error("zero time")
	}
}

// TestCatalogue checks that every message has both languages and that
// every key a template names (literally, or by a known prefix) exists.
func TestCatalogue(t *testing.T) {
	for k, m := range catalogue {
		if strings.TrimSpace(m[0]) == "" || strings.TrimSpace(m[1]) == "" {
			t.Errorf("%s: empty message %q", k, m)
		}
	}
	used := regexp.MustCompile(`\bt \$?[A-Za-z.]* "([^"]+)"`)
	var files []string
	filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".html") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 5 {
		t.Fatalf("templates not found: %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			if !Has(m[1]) {
				t.Errorf("%s: key %q not in the catalogue", f, m[1])
			}
		}
	}
	// Keys built at run time.
	for _, k := range []string{"role.officer", "role.supervisor", "role.admin", "state.enrolled", "state.active", "state.suspended",
		"state.revoked", "code.purpose.activate", "code.purpose.add-device", "form.national_id", "form.doc_check", "form.face_match"} {
		if !Has(k) {
			t.Errorf("key %q not in the catalogue", k)
		}
	}
}

func TestCSRF(t *testing.T) {
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	tok := CSRFToken(rec, r)
	if len(tok) != 43 || CSRFToken(rec, r) != tok {
		t.Fatalf("token %q", tok)
	}
	post := func(field string, hdr ...string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "http://example.test/x", strings.NewReader(url.Values{CSRFField: {field}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: CSRFCookie, Value: tok})
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		req.ParseForm()
		return req
	}
	if err := CheckCSRF(post(tok)); err != nil {
		t.Errorf("good: %v", err)
	}
	if err := CheckCSRF(post(tok, "Origin", "http://example.test")); err != nil {
		t.Errorf("same origin: %v", err)
	}
	for name, req := range map[string]*http.Request{
		"wrong":        post(tok[:42] + "x"),
		"empty":        post(""),
		"other origin": post(tok, "Origin", "http://evil.test"),
		"cross-site":   post(tok, "Sec-Fetch-Site", "cross-site"),
	} {
		if err := CheckCSRF(req); err != ErrCSRF {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestLang(t *testing.T) {
	for _, tc := range []struct {
		query, cookie, want string
	}{{"", "", "ar"}, {"lang=en", "", "en"}, {"", "en", "en"}, {"lang=ar", "en", "ar"}, {"lang=fr", "", "ar"}, {"", "xx", "ar"}} {
		r := httptest.NewRequest(http.MethodGet, "/?"+tc.query, nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: LangCookie, Value: tc.cookie})
		}
		if got := Lang(httptest.NewRecorder(), r); got != tc.want {
			t.Errorf("%+v: %s", tc, got)
		}
	}
	if Dir(Arabic) != "rtl" || Dir(English) != "ltr" {
		t.Error("dir")
	}
	u, _ := url.Parse("/centre/identity?nid=1&lang=ar")
	if got := SwitchURL(u, English); got != "/centre/identity?lang=en&nid=1" {
		t.Errorf("SwitchURL: %s", got)
	}
}
