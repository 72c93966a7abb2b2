package seal_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/internal/testtool"
	"github.com/thiqa/thiqa/platform/seal"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/store"
)

var now = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)

// env is a key ceremony on a bbolt store with software keys.
type env struct {
	keys hsm.Custody
	st   *store.Bolt
	ca   *ca.Service
	root *x509.Certificate
}

func newEnv(t testing.TB) *env {
	t.Helper()
	keys, st := testenv.Keys(t), testenv.Bolt(t)
	authority := testenv.CA(t, keys, st, ca.Options{Clock: func() time.Time { return now }})
	root, err := authority.AuthorityCertificate("root")
	if err != nil {
		t.Fatal(err)
	}
	return &env{keys: keys, st: st, ca: authority, root: root}
}

var platform = seal.Identity{Name: "platform", Organization: "Thiqa Platform", OrganizationAr: "منصة ثقة", OrgIdentifier: "GOVJO-1000"}

func TestProvisionOnceAndSeal(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	opts := seal.ProvisionOptions{Clock: func() time.Time { return now }}
	s1, err := seal.Provision(ctx, e.keys, e.ca, e.st, platform, opts)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := seal.Provision(ctx, e.keys, e.ca, e.st, platform, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !s1.Certificate().Equal(s2.Certificate()) {
		t.Fatal("provisioning again issued another certificate")
	}
	if got := s1.Certificate().Subject.Organization; len(got) != 1 || got[0] != platform.Organization {
		t.Fatalf("organisation %v", got)
	}
	for _, tt := range []struct {
		name  string
		stamp *seal.Stamp
	}{
		{"invisible", nil},
		{"visible bilingual stamp", &seal.Stamp{Page: 1, Rect: [4]float64{300, 60, 560, 160}, Reason: "إيصال دفع · Receipt"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := s1.Seal(ctx, testenv.OnePagePDF("Sealed document", 0), seal.Options{Reason: "test", Stamp: tt.stamp})
			if err != nil {
				t.Fatal(err)
			}
			checkSealed(t, sealed, e.root)
		})
	}
}

// checkSealed validates a sealed PDF with Thiqa's validator (TOTAL-PASSED,
// B-LT) and with poppler's pdfsig.
func checkSealed(t *testing.T, pdf []byte, root *x509.Certificate) {
	t.Helper()
	rep, err := validate.Validate(context.Background(), bytes.NewReader(pdf), int64(len(pdf)),
		&validate.Options{TrustAnchors: []*x509.Certificate{root}, Time: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indication != validate.TotalPassed || len(rep.Signatures) != 1 || rep.Signatures[0].Level != "B-LT" {
		j, _ := json.MarshalIndent(rep, "", " ")
		t.Fatalf("validator says %s\n%s", rep.Indication, j)
	}
	bin := testtool.Require(t, "pdfsig")
	path := filepath.Join(t.TempDir(), "sealed.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-nocert", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature is Valid") {
		t.Fatalf("pdfsig: %v\n%s", err, out)
	}
}

func TestProvisionRenewsRevoked(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	opts := seal.ProvisionOptions{Clock: func() time.Time { return now }}
	s1, err := seal.Provision(ctx, e.keys, e.ca, e.st, platform, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ca.Revoke(ctx, s1.Certificate().SerialNumber, ca.Reason(4)); err != nil {
		t.Fatal(err)
	}
	s2, err := seal.Provision(ctx, e.keys, e.ca, e.st, platform, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s1.Certificate().Equal(s2.Certificate()) {
		t.Fatal("a revoked seal certificate was kept")
	}
}
