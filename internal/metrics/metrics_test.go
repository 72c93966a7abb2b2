package metrics_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/internal/metrics"
)

func TestRoute(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"/ocsp", "/ocsp"},
		{"/ocsp/MFYwVKADAgEAME0wSzAJBgUrDgMCGgUABBQ", "/ocsp"},
		{"/ca/root.pem", "/ca"},
		{"/audit/proof/inclusion", "/audit"},
		{"/api/v1/sign-requests/7f3a/approve", "/api/v1/sign-requests"},
		{"/api", "/api"},
		{"/", "/"},
		{"/" + strings.Repeat("a", 100), "other"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if got := metrics.Route(tc.path); got != tc.want {
				t.Fatalf("Route(%q) = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics = %d", rec.Code)
	}
	return rec.Body.String()
}

func TestMiddlewareAndCustody(t *testing.T) {
	m := metrics.New()
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok")
	}))
	for _, p := range []string{"/ocsp", "/ocsp/abc", "/missing"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	keys, err := hsm.OpenSoftware(t.TempDir(), make([]byte, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Custody(keys)
	if _, err := c.GenerateKey(context.Background(), "k", hsm.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	k, err := c.Key(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	if _, err := k.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	m.Signatures.WithLabelValues("B-LT").Inc()
	body := scrape(t, m)
	for _, want := range []string{
		`thiqa_http_requests_total{code="200",route="/ocsp"} 2`,
		`thiqa_http_requests_total{code="404",route="/missing"} 1`,
		`thiqa_http_request_duration_seconds_count{route="/ocsp"} 2`,
		`thiqa_key_custody_duration_seconds_count{alg="EC-P256",op="sign"} 1`,
		`thiqa_key_custody_duration_seconds_count{alg="EC-P256",op="generate"} 1`,
		`thiqa_signatures_total{level="B-LT"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestWrapped times wrapped-key operations that succeed, passes their
// results and errors through unchanged, and leaves failures untimed.
func TestWrapped(t *testing.T) {
	ctx := context.Background()
	m := metrics.New()
	keys, err := hsm.OpenSoftware(t.TempDir(), make([]byte, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	w := m.Wrapped(keys)
	blob, pub, err := w.NewWrappedKey(ctx, "PNOJO-9861234567", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	sigs, err := w.SignWithWrapped(ctx, "PNOJO-9861234567", blob, [][]byte{d[:], d[:]}, crypto.SHA256)
	if err != nil || len(sigs) != 2 {
		t.Fatalf("sign: %d signatures, %v", len(sigs), err)
	}
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sigs[0]) {
		t.Fatal("signature through the wrapper does not verify")
	}
	if _, err := w.SignWithWrapped(ctx, "PNOJO-9860000000", blob, [][]byte{d[:]}, crypto.SHA256); !errors.Is(err, hsm.ErrWrongOwner) {
		t.Fatalf("blob of another owner: %v", err)
	}
	body := scrape(t, m)
	for _, want := range []string{
		`thiqa_key_custody_duration_seconds_count{alg="EC-P256",op="wrap-generate"} 1`,
		`thiqa_key_custody_duration_seconds_count{alg="SHA-256",op="wrap-sign"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
