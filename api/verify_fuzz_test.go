package api

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/signer/validate"
)

// FuzzVerifyUpload posts fuzzed uploads to the public POST /api/v1/verify
// (raw PDFs and multipart forms, with fuzzed media types), seeded with a
// real signed PDF. The answer must be a validation report (200) or a 4xx
// problem body; never a 5xx, never a panic. Validation is offline.
func FuzzVerifyUpload(f *testing.F) {
	pdf := testenv.Corpus(f, "signed/pdfcpu/ETSI.CAdES.detached_testPAdES_BLT.pdf")
	v := &validate.Validator{Options: validate.Options{Time: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}}
	s := New(Deps{Verifier: v}, Options{MaxBody: 4 << 20})
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "doc.pdf")
	fw.Write(pdf)
	mw.Close()
	f.Add("application/pdf", pdf)
	f.Add(mw.FormDataContentType(), form.Bytes())
	f.Add(mw.FormDataContentType(), form.Bytes()[:form.Len()/3])
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n%PDF-1.7\r\n--x--\r\n"))
	f.Add("application/pdf; charset=utf-8", []byte("%PDF-1.4\n%%EOF"))
	f.Add("multipart/form-data", []byte("--\r\n"))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/verify", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusOK:
			var rep validate.Report
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil || rep.Schema != validate.SchemaVersion || rep.Indication == "" {
				t.Fatalf("200 without a report (%v): %.300s", err, rec.Body)
			}
		case rec.Code >= 400 && rec.Code < 500:
			var p struct {
				Status int `json:"status"`
			}
			if rec.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != rec.Code {
				t.Fatalf("%d without a problem body: %.300s", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("%d for Content-Type %q: %.300s", rec.Code, ctype, rec.Body)
		}
	})
}
