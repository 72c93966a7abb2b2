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

func TestVerifyEndpoint(t *testing.T) {
	pdf := testenv.Corpus(t, "signed/pdfcpu/ETSI.CAdES.detached_testPAdES_BLT.pdf")
	v := &validate.Validator{Options: validate.Options{Time: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}}
	multi := func(field string) (*bytes.Buffer, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile(field, "doc.pdf")
		fw.Write(pdf)
		mw.Close()
		return &b, mw.FormDataContentType()
	}
	mb, mct := multi("file")
	wb, wct := multi("other")
	for _, tc := range []struct {
		name    string
		deps    Deps
		maxBody int64
		body    *bytes.Buffer
		ctype   string
		status  int
	}{
		{"raw PDF", Deps{Verifier: v}, 0, bytes.NewBuffer(pdf), "application/pdf", http.StatusOK},
		{"multipart", Deps{Verifier: v}, 0, mb, mct, http.StatusOK},
		{"multipart without file", Deps{Verifier: v}, 0, wb, wct, http.StatusBadRequest},
		{"not a PDF", Deps{Verifier: v}, 0, bytes.NewBufferString("hello"), "application/pdf", http.StatusOK},
		{"empty", Deps{Verifier: v}, 0, new(bytes.Buffer), "application/pdf", http.StatusBadRequest},
		{"too large", Deps{Verifier: v}, 1024, bytes.NewBuffer(pdf), "application/pdf", http.StatusRequestEntityTooLarge},
		{"not configured", Deps{}, 0, bytes.NewBuffer(pdf), "application/pdf", http.StatusServiceUnavailable},
		{"JSON body", Deps{Verifier: v}, 0, bytes.NewBufferString(`{"pdf":"x"}`), "application/json", http.StatusUnsupportedMediaType},
		{"no content type", Deps{Verifier: v}, 0, bytes.NewBuffer(pdf), "", http.StatusUnsupportedMediaType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(tc.deps, Options{MaxBody: tc.maxBody})
			req := httptest.NewRequest(http.MethodPost, "/api/v1/verify", tc.body)
			req.Header.Set("Content-Type", tc.ctype)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
			}
			if tc.status != http.StatusOK {
				return
			}
			var rep validate.Report
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Schema != validate.SchemaVersion || rep.Indication == "" {
				t.Errorf("report %+v", rep)
			}
		})
	}
}
