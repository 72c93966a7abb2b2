package node

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/ca"
)

// TestPagesAreMounted checks that thiqa serve answers the officer
// console, the verification page, the admin pages and their assets.
func TestPagesAreMounted(t *testing.T) {
	n, _, err := Open(context.Background(), Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	srv := httptest.NewServer(n.Handler())
	defer srv.Close()
	for path, want := range map[string]string{
		"/centre/":          `id="signin"`,
		"/verify/?lang=en":  `id="hash-form"`,
		"/admin/":           `id="signin"`,
		"/assets/thiqa.css": "Logical properties",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: %s %.200s", path, resp.Status, body)
		}
	}
}

func TestVerifyBaseURL(t *testing.T) {
	for issuer, want := range map[string]string{
		"http://localhost:8080/oidc":    "http://localhost:8080/verify/?sig=",
		"https://id.thiqa.example/oidc": "https://id.thiqa.example/verify/?sig=",
		"":                              "",
	} {
		if got := verifyBaseURL(issuer); got != want {
			t.Errorf("verifyBaseURL(%q) = %q, want %q", issuer, got, want)
		}
	}
}
