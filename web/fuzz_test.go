package web

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/thiqa/thiqa/internal/natid"
	"github.com/thiqa/thiqa/internal/testenv"
)

// FuzzProofingForm feeds the enrolment form parser arbitrary encoded
// forms: it must not panic, and whatever it accepts without errors must be
// a valid national number, valid UTF-8 and short.
func FuzzProofingForm(f *testing.F) {
	f.Add(proofing("1234567890").Encode())
	f.Add(proofing("١٢٣٤٥٦٧٨٩٠").Encode())
	bad := proofing("12")
	bad.Set("date_of_birth", "1990-13-40")
	bad.Set("given_name_ar", "Omar")
	f.Add(bad.Encode())
	f.Add("national_id=%FF%FE&given_name=" + string(bytes.Repeat([]byte("a"), 300)))
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, pf := parseProofing(form, testNow)
		for k, v := range pf.Values {
			if !utf8.ValidString(v) || len(v) > 256 {
				t.Fatalf("%s kept as %q", k, v)
			}
		}
		if len(pf.Errors) > 0 {
			return
		}
		if n, err := natid.Normalize(p.NationalID); err != nil || n != p.NationalID {
			t.Fatalf("accepted national number %q", p.NationalID)
		}
		for _, s := range []string{p.GivenName, p.Surname, p.GivenNameAr, p.SurnameAr} {
			if s == "" || utf8.RuneCountInString(s) > 64 {
				t.Fatalf("accepted name %q", s)
			}
		}
	})
}

// FuzzUpload feeds the verification upload reader arbitrary multipart
// bodies: no panic, and a returned PDF is never empty nor over the limit.
func FuzzUpload(f *testing.F) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.SetBoundary("thiqa-boundary")
	fw, _ := mw.CreateFormFile("file", "a.pdf")
	fw.Write(testenv.OnePagePDF("Thiqa test document: pay 100 JOD", 0))
	mw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("--thiqa-boundary\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n%PDF-1.7\r\n--thiqa-boundary--\r\n"))
	f.Add([]byte("--thiqa-boundary--\r\n"))
	f.Add([]byte("garbage"))
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/verify/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "multipart/form-data; boundary=thiqa-boundary")
		rec := httptest.NewRecorder()
		req.Body = http.MaxBytesReader(rec, req.Body, limit)
		pdf, err := readUpload(req)
		if err == nil && (len(pdf) == 0 || len(pdf) > limit) {
			t.Fatalf("returned %d bytes", len(pdf))
		}
	})
}
