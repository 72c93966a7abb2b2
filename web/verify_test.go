package web

import (
	"bytes"
	"html"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/web/internal/ui"
)

// upload posts pdf as the verification form's "file" part.
func (b *browser) upload(t testing.TB, field string, pdf []byte) *httptest.ResponseRecorder {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile(field, "signed.pdf")
	fw.Write(pdf)
	mw.Close()
	req := httptest.NewRequest(http.MethodPost, "/verify/", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(t, req)
}

func TestVerifyPage(t *testing.T) {
	e := newEnv(t)
	signed := signedPDF(t, e.pki)
	for _, lang := range []string{ui.Arabic, ui.English} {
		t.Run("good "+lang, func(t *testing.T) {
			b := e.browser()
			b.lang = lang
			rec := b.upload(t, "file", signed)
			page := rec.Body.String()
			if rec.Code != 200 || !strings.Contains(page, `id="verdict">TOTAL-PASSED<`) || !strings.Contains(page, `<html lang="`+lang+`" dir="`+ui.Dir(lang)+`">`) ||
				!strings.Contains(page, `&#34;schema&#34;: &#34;thiqa.verify/v1&#34;`) {
				t.Fatalf("%d %s", rec.Code, page)
			}
			for _, want := range []string{ui.T(lang, "verify.signer"), "Test Signer", "B-LT", ui.T(lang, "verify.only-allowed")} {
				if !strings.Contains(page, html.EscapeString(want)) {
					t.Errorf("page lacks %q", want)
				}
			}
		})
		t.Run("tampered "+lang, func(t *testing.T) {
			b := e.browser()
			b.lang = lang
			rec := b.upload(t, "file", tamper(t, signed))
			page := rec.Body.String()
			if rec.Code != 200 || strings.Contains(page, `id="verdict">TOTAL-PASSED<`) {
				t.Fatalf("tampered file passed: %d %s", rec.Code, page)
			}
			if !strings.Contains(page, html.EscapeString(ui.T(lang, "mod.page-content-changed"))) || !strings.Contains(page, ui.T(lang, "verify.not-allowed")) {
				t.Fatalf("the change is not said in words: %s", page)
			}
		})
	}
	t.Run("raw body", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/verify/", bytes.NewReader(signed))
		req.Header.Set("Content-Type", "application/pdf")
		if rec := e.browser().do(t, req); rec.Code != 200 || !strings.Contains(rec.Body.String(), "TOTAL-PASSED") {
			t.Fatalf("%d", rec.Code)
		}
	})
	t.Run("not a PDF", func(t *testing.T) {
		rec := e.browser().upload(t, "file", []byte("hello"))
		if rec.Code != 200 || strings.Contains(rec.Body.String(), "TOTAL-PASSED") {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"no file part", func() *http.Request {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			fw, _ := mw.CreateFormFile("other", "x.pdf")
			fw.Write(signed)
			mw.Close()
			r := httptest.NewRequest(http.MethodPost, "/verify/", &buf)
			r.Header.Set("Content-Type", mw.FormDataContentType())
			return r
		}, 400},
		{"empty file", func() *http.Request {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			mw.CreateFormFile("file", "x.pdf")
			mw.Close()
			r := httptest.NewRequest(http.MethodPost, "/verify/", &buf)
			r.Header.Set("Content-Type", mw.FormDataContentType())
			return r
		}, 400},
		{"form encoded", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/verify/", strings.NewReader("file=x"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, 400},
		{"too large", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/verify/", bytes.NewReader(make([]byte, 2<<20)))
			r.Header.Set("Content-Type", "application/pdf")
			return r
		}, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.browser().do(t, tc.req())
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), `id="upload"`) {
				t.Fatalf("%d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
		})
	}
	t.Run("stamp QR", func(t *testing.T) {
		rec := e.browser().get(t, "/verify/?sig=AAAAAAAAAAAAAAAAAAAAAA")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `id="stamp"`) {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		rec = e.browser().get(t, "/verify/?sig=%3Cscript%3E")
		if strings.Contains(rec.Body.String(), `id="stamp"`) {
			t.Fatalf("a malformed identifier is shown")
		}
	})
}
