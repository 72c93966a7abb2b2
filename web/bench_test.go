package web

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/thiqa/thiqa/store"
)

// BenchmarkVerifyPage uploads a signed B-LT PDF and renders the report
// page: multipart parsing, validation and the template.
func BenchmarkVerifyPage(b *testing.B) {
	e := newEnv(b)
	pdf := signedPDF(b, e.pki)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "signed.pdf")
	fw.Write(pdf)
	mw.Close()
	body, ctype := buf.Bytes(), mw.FormDataContentType()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/verify/", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkEnrolPage posts the enrolment form as a signed-in officer:
// session check, CSRF check, form validation, the enrolment transaction,
// the activation code's QR and the page.
func BenchmarkEnrolPage(b *testing.B) {
	e := newEnv(b)
	e.officer(b, "layla", store.RoleOfficer, "AMM-01")
	br := e.signedIn(b, "layla")
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		f := proofing(nidOf(i))
		f.Set("csrf", br.csrf(b))
		req := httptest.NewRequest(http.MethodPost, "/centre/enrol", bytes.NewBufferString(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := br.do(b, req)
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkIdentityPage renders an identity for an officer.
func BenchmarkIdentityPage(b *testing.B) {
	e := newEnv(b)
	e.officer(b, "layla", store.RoleOfficer, "AMM-01")
	br := e.signedIn(b, "layla")
	if rec := br.post(b, "/centre/enrol", proofing("1234567890")); rec.Code != 200 {
		b.Fatal(rec.Code)
	}
	path := "/centre/identity?" + url.Values{"nid": {"1234567890"}}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		if rec := br.get(b, path); rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

func nidOf(i int) string {
	s := []byte("1000000000")
	for j := 9; j > 0 && i > 0; j-- {
		s[j] = byte('0' + i%10)
		i /= 10
	}
	return string(s)
}
