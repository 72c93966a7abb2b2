package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/internal/problem"
)

func TestPublicHandler(t *testing.T) {
	env := newTestEnv(t)
	h := env.svc.Handler()
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec
	}
	root, _ := env.svc.AuthorityCertificate(Root)
	if rec := get("/ca/root.cer"); rec.Code != 200 || rec.Header().Get("Content-Type") != "application/pkix-cert" || !bytes.Equal(rec.Body.Bytes(), root.Raw) {
		t.Errorf("/ca/root.cer: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec := get("/ca/root.pem"); rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("/ca/root.pem: %d", rec.Code)
	}
	rec := get("/ca/bundle.pem")
	var names []string
	for rest := rec.Body.Bytes(); ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, c.Subject.CommonName)
	}
	if strings.Join(names, ",") != "Thiqa Citizen CA,Thiqa Organisation CA,Thiqa Root CA" {
		t.Errorf("bundle = %v, want issuing CAs then root", names)
	}
	for _, name := range []string{"root", "citizen-ca", "org-ca"} {
		rec := get("/crl/" + name + ".crl")
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/pkix-crl" {
			t.Errorf("%s CRL: %d %s", name, rec.Code, rec.Header().Get("Content-Type"))
			continue
		}
		if _, err := x509.ParseRevocationList(rec.Body.Bytes()); err != nil {
			t.Errorf("%s CRL: %v", name, err)
		}
	}
	for _, lang := range []string{"en", "ar"} {
		if rec := get("/pds/" + lang); rec.Code != 200 || !strings.Contains(rec.Body.String(), "Thiqa") {
			t.Errorf("/pds/%s: %d", lang, rec.Code)
		}
	}
	for _, path := range []string{"/ca/nobody.cer", "/ca/root", "/ca/root.exe", "/crl/tsu.crl", "/crl/x", "/pds/fr"} {
		rec := get(path)
		var p problem.Details
		json.Unmarshal(rec.Body.Bytes(), &p)
		if rec.Code != 404 || p.Status != 404 || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %+v, want a 404 problem", path, rec.Code, p)
		}
	}
	// The TSA refuses what is not a time-stamp query.
	r := httptest.NewRequest("POST", "/tsa", strings.NewReader("hello"))
	r.Header.Set("Content-Type", "text/plain")
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, r)
	body, _ := io.ReadAll(rr.Body)
	if rr.Code != http.StatusUnsupportedMediaType {
		t.Errorf("TSA with text/plain: %d %s", rr.Code, body)
	}
}
