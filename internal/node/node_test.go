package node

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ocsp"

	"github.com/thiqa/thiqa/ca"
)

// TestOCSPGetWithSlashes sends OCSP GET requests whose base64 is not
// URL-escaped, as some clients do; a ServeMux would redirect any holding
// "//" instead of answering.
func TestOCSPGetWithSlashes(t *testing.T) {
	ctx := context.Background()
	n, _, err := Open(ctx, Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	srv := httptest.NewServer(n.Handler())
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	issuer, _ := n.CA.AuthorityCertificate(ca.CitizenCA)
	seen := 0
	for i := 0; seen < 1 && i < 5000; i++ {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		cert, err := n.CA.Issue(ctx, ca.Request{Profile: ca.CitizenAuth, PublicKey: key.Public(), Subject: ca.Subject{
			NationalID: "9861234567", GivenName: "Sara", Surname: "Nasser", GivenNameAr: "سارة", SurnameAr: "ناصر"}})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
		b64 := base64.StdEncoding.EncodeToString(req)
		if !strings.Contains(b64, "//") && !strings.HasPrefix(b64, "/") {
			continue
		}
		seen++
		resp, err := client.Get(srv.URL + "/ocsp/" + b64)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", b64, resp.Status)
		}
		r, err := ocsp.ParseResponseForCert(body, cert, issuer)
		if err != nil || r.Status != ocsp.Good {
			t.Fatalf("GET %s: %v", b64, err)
		}
	}
	if seen == 0 {
		t.Fatal("no request with // in its base64 was made")
	}
}

// TestVerifyIsWired checks that the node gives the API its validator (the
// API answers 503 without one).
func TestVerifyIsWired(t *testing.T) {
	n, _, err := Open(context.Background(), Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	srv := httptest.NewServer(n.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/api/v1/verify", "application/pdf", strings.NewReader("%PDF-1.7\nnot really\n%%EOF\n"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "FORMAT_FAILURE") {
		t.Fatalf("verify: %s %s", resp.Status, body)
	}
}
