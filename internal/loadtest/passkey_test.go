package loadtest_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/loadtest"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/signing"
)

// TestSignInAndApprovalWorkload runs passkey sign-ins and whole approvals
// (an agency's sign request, the citizen's passkey approval, a signed PDF)
// against a node over loopback HTTP, from four workers over three
// citizens' phones, and checks that every operation succeeded.
func TestSignInAndApprovalWorkload(t *testing.T) {
	ctx := context.Background()
	n, _, err := node.Open(ctx, node.Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	phones := citizens(t, n, 3)
	key, err := n.Signing.AddAgency(ctx, signing.NewAgency{Name: "Load Agency", Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		t.Fatal(err)
	}
	pdf := testenv.CorpusPDF(t, "testfile20.pdf")
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	cfg := loadtest.Config{Base: srv.URL, Workers: 4, MaxOps: 30, For: 2 * time.Minute, Seed: 3,
		Ops: []loadtest.Op{loadtest.SignIn(2, phones), loadtest.Approve(1, key.Key, pdf, phones, nil)}}
	// Soak mode: THIQA_SOAK=30m go test ./internal/loadtest -run SignInAndApproval -timeout 0 -v
	// runs approvals only: sign-ins from one address are rate limited
	// (2,000 per 10 minutes, api.RateLimits.PerIP), which the sign-in op
	// passes within a minute; the approvals sign in again whenever their
	// 15-minute sessions end.
	soak := false
	if d, err := time.ParseDuration(os.Getenv("THIQA_SOAK")); err == nil {
		cfg.MaxOps, cfg.For, cfg.Ops, soak = 100_000_000, d, cfg.Ops[1:], true
	}
	res, err := loadtest.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range cfg.Ops {
		name := op.Name
		s := res.Ops[name]
		if s == nil || s.Count == 0 {
			t.Fatalf("no %s ops ran: %+v", name, res.Ops)
		}
		if s.Errors > 0 {
			t.Errorf("%s: %d errors of %d, first: %s", name, s.Errors, s.Count, s.FirstError)
		}
		t.Logf("%-8s %4d ops  p50 %v  p99 %v  max %v", name, s.Count, s.P50, s.P99, s.Max)
	}
	if res.Total != cfg.MaxOps && !soak {
		t.Errorf("ran %d ops, want %d", res.Total, cfg.MaxOps)
	}
	t.Logf("%d ops in %v: %.0f ops/s", res.Total, res.Elapsed, res.Rate())
}

// citizens enrols and activates count citizens through the node's
// enrollment service, each with a virtual phone.
func citizens(t *testing.T, n *node.Node, count int) []*loadtest.Phone {
	t.Helper()
	var out []*loadtest.Phone
	for _, ph := range testenv.Citizens(t, n.Enrollment, "98612345", count) {
		out = append(out, &loadtest.Phone{NationalID: ph.NationalID, RP: testenv.RP, Auth: ph.Auth, Cred: ph.Cred})
	}
	return out
}
