package loadtest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/loadtest"
	"github.com/thiqa/thiqa/internal/node"
)

// testNode opens a node with a few citizen certificates and audit records
// and serves it on a loopback address.
func testNode(t *testing.T) (string, *x509.Certificate, []*x509.Certificate) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := ca.DefaultConfig()
	cfg.PublicURL = "http://127.0.0.1:8080"
	n, _, err := node.Open(ctx, node.Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	var certs []*x509.Certificate
	for i := range 4 {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
		c, err := n.CA.IssueFromCSR(ctx, ca.CitizenSigning, csr, ca.Subject{NationalID: fmt.Sprintf("986123456%d", i),
			GivenName: "Omar", Surname: "Khalil", GivenNameAr: "عمر", SurnameAr: "خليل"})
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
		if _, err := n.Audit.Append(ctx, audit.Event{Actor: "system", Action: "certificate.issue", Subject: c.SerialNumber.Text(16)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	issuer, err := n.CA.AuthorityCertificate("citizen-ca")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	return srv.URL, issuer, certs
}

func TestMixedWorkload(t *testing.T) {
	base, issuer, certs := testNode(t)
	cfg := loadtest.Config{Base: base, Workers: 8, MaxOps: 300, For: time.Minute, Seed: 1,
		Ops: []loadtest.Op{loadtest.OCSP(5, issuer, certs), loadtest.AuditProof(2), loadtest.Health(1)}}
	// Soak mode: THIQA_SOAK=30m go test ./internal/loadtest -run MixedWorkload -timeout 0
	if d, err := time.ParseDuration(os.Getenv("THIQA_SOAK")); err == nil {
		cfg.MaxOps, cfg.For = 100_000_000, d
	}
	res, err := loadtest.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range res.Ops {
		if s.Errors > 0 {
			t.Errorf("%s: %d errors of %d, first: %s", name, s.Errors, s.Count, s.FirstError)
		}
		t.Logf("%-12s %6d ops  p50 %v  p99 %v  max %v", name, s.Count, s.P50, s.P99, s.Max)
	}
	if res.Total != cfg.MaxOps && os.Getenv("THIQA_SOAK") == "" {
		t.Errorf("ran %d ops, want %d", res.Total, cfg.MaxOps)
	}
	t.Logf("%d ops in %v: %.0f ops/s", res.Total, res.Elapsed, res.Rate())
}

func TestVerifyOp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/api/v1/verify" || string(b) != "%PDF-1.7" {
			http.Error(w, "bad", 400)
			return
		}
		w.Write([]byte(`{"signatures":[]}`))
	}))
	defer srv.Close()
	res, err := loadtest.Run(context.Background(), loadtest.Config{Base: srv.URL, MaxOps: 20,
		Ops: []loadtest.Op{loadtest.Verify(1, []byte("%PDF-1.7"))}})
	if err != nil || res.Ops["verify"].Count != 20 || res.Ops["verify"].Errors != 0 {
		t.Fatalf("Run = %+v, %v", res.Ops["verify"], err)
	}
}

func TestRefuses(t *testing.T) {
	ok := []loadtest.Op{loadtest.Health(1)}
	for _, tc := range []struct {
		name string
		cfg  loadtest.Config
		want error
	}{
		{"remote host", loadtest.Config{Base: "http://thiqa.example.jo", Ops: ok}, loadtest.ErrNotLoopback},
		{"remote ip", loadtest.Config{Base: "http://10.0.0.1:8080", Ops: ok}, loadtest.ErrNotLoopback},
		{"no scheme", loadtest.Config{Base: "127.0.0.1:8080", Ops: ok}, loadtest.ErrBadConfig},
		{"no ops", loadtest.Config{Base: "http://127.0.0.1:1"}, loadtest.ErrBadConfig},
		{"zero weight", loadtest.Config{Base: "http://[::1]:1", Ops: []loadtest.Op{loadtest.Health(0)}}, loadtest.ErrBadConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := loadtest.Run(context.Background(), tc.cfg); !errors.Is(err, tc.want) {
				t.Fatalf("Run = %v, want %v", err, tc.want)
			}
		})
	}
}
