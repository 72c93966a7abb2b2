package node_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/loadtest"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/signing"
)

// TestMetricsAfterFlow runs the citizen's flow through a node's handler
// (activations, an agency's sign requests approved with the passkey over
// HTTP, an issuance and a revocation) and checks that /metrics counts
// exactly what was done: signatures by level, certificates by profile,
// revocations by reason, and the OCSP and API routes.
func TestMetricsAfterFlow(t *testing.T) {
	ctx := context.Background()
	n, _, err := node.Open(ctx, node.Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	signingSeries := fmt.Sprintf("thiqa_certificates_issued_total{profile=%q}", ca.CitizenSigning)
	signingBefore := metricValue(t, n.Handler(), signingSeries)
	var phones []*loadtest.Phone
	for _, ph := range testenv.Citizens(t, n.Enrollment, "98612345", 2) {
		phones = append(phones, &loadtest.Phone{NationalID: ph.NationalID, RP: testenv.RP, Auth: ph.Auth, Cred: ph.Cred})
	}
	if got := metricValue(t, n.Handler(), signingSeries) - signingBefore; got != 2 {
		t.Errorf("citizen-signing certificates counted for 2 activations: %v", got)
	}

	key, err := n.Signing.AddAgency(ctx, signing.NewAgency{Name: "Metrics Agency", Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		t.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	pdf, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus", "inputs", "pdfsign", "testfile20.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	const approvals = 3
	res, err := loadtest.Run(ctx, loadtest.Config{Base: srv.URL, Workers: 1, MaxOps: approvals, For: time.Minute, Seed: 1,
		Ops: []loadtest.Op{loadtest.Approve(1, key.Key, pdf, phones, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Ops["approve"]; s == nil || s.Count != approvals || s.Errors != 0 {
		t.Fatalf("approvals: %+v", res.Ops["approve"])
	}

	// An issuance and its revocation, as an operator's would be.
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	authSeries := fmt.Sprintf("thiqa_certificates_issued_total{profile=%q}", ca.CitizenAuth)
	authBefore := metricValue(t, n.Handler(), authSeries)
	cert, err := n.CA.Issue(ctx, ca.Request{Profile: ca.CitizenAuth, PublicKey: k.Public(),
		Subject: ca.Subject{NationalID: "9861234599", GivenName: "Rana", Surname: "Saleh", GivenNameAr: "رنا", SurnameAr: "صالح"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.CA.Revoke(ctx, cert.SerialNumber, ca.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	// A revocation refused (unknown serial) counts nothing.
	if _, err := n.CA.Revoke(ctx, cert.SerialNumber.Add(cert.SerialNumber, cert.SerialNumber), ca.ReasonSuperseded); err == nil {
		t.Fatal("revoking an unknown serial succeeded")
	}

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		fmt.Sprintf("thiqa_signatures_total{level=%q} %d\n", "B-LT", approvals),
		fmt.Sprintf("%s %v\n", authSeries, authBefore+1),
		fmt.Sprintf("thiqa_certificates_issued_total{profile=%q} %v\n", ca.CitizenSigning, signingBefore+2),
		"thiqa_certificates_revoked_total{reason=\"keyCompromise\"} 1\n",
		fmt.Sprintf("thiqa_http_requests_total{code=\"201\",route=\"/api/v1/sign-requests\"} %d\n", approvals),
		"thiqa_audit_events_total{action=\"signing.sign\"} 3\n",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(string(body), `reason="superseded"`) {
		t.Error("a refused revocation was counted")
	}
	if t.Failed() {
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, "thiqa_") && !strings.Contains(l, "_bucket") {
				t.Log(l)
			}
		}
	}
}

// metricValue scrapes h's /metrics and returns the value of series (0 when
// absent).
func metricValue(t *testing.T, h http.Handler, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	return 0
}
