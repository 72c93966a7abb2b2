package loadtest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/loadtest"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
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
	_, file, _, _ := runtime.Caller(0)
	pdf, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus", "inputs", "pdfsign", "testfile20.pdf"))
	if err != nil {
		t.Fatal(err)
	}
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
	ctx := context.Background()
	root := enrollment.Operator("root")
	if _, err := n.Enrollment.CreateCentre(ctx, root, store.Centre{Code: "AMM-01", NameAr: "عمان", NameEn: "Amman", Governorate: "Amman"}); err != nil {
		t.Fatal(err)
	}
	const pw = "correct horse battery staple"
	enr, err := n.Enrollment.CreateOfficer(ctx, root, enrollment.NewOfficer{Username: "omar", Role: store.RoleOfficer, Centre: "AMM-01", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := otp.NewKeyFromURL(enr.TOTPURL)
	code, _ := totp.GenerateCode(k.Secret(), time.Now())
	_, officer, err := n.Enrollment.OfficerSignIn(ctx, "omar", pw, code)
	if err != nil {
		t.Fatal(err)
	}
	rp := virtualwebauthn.RelyingParty{ID: "localhost", Name: "Thiqa", Origin: "http://localhost:8080"}
	var out []*loadtest.Phone
	for i := range count {
		nid := fmt.Sprintf("98612345%02d", i)
		e, err := n.Enrollment.Enrol(ctx, officer, enrollment.Proofing{NationalID: nid, GivenName: "Layla", Surname: "Haddad",
			GivenNameAr: "ليلى", SurnameAr: "حداد", DateOfBirth: "1990-04-12", DocType: "national-id-card", DocNumber: "ab123456",
			DocExpiry: "2035-01-01", DocCheck: "pass", FaceMatch: "pass"})
		if err != nil {
			t.Fatal(err)
		}
		ch, err := n.Enrollment.BeginActivation(ctx, nid, e.Code.Code)
		if err != nil {
			t.Fatal(err)
		}
		ao, err := virtualwebauthn.ParseAttestationOptions(string(ch.Options))
		if err != nil {
			t.Fatal(err)
		}
		auth := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(ao.UserID)})
		cred := fullLengthPasskey(t)
		resp := virtualwebauthn.CreateAttestationResponse(rp, auth, cred, *ao)
		auth.AddCredential(cred)
		if _, err := n.Enrollment.FinishActivation(ctx, ch.CeremonyID, "phone", []byte(resp)); err != nil {
			t.Fatal(err)
		}
		out = append(out, &loadtest.Phone{NationalID: nid, RP: rp, Auth: auth, Cred: cred})
	}
	return out
}

// fullLengthPasskey makes a virtual passkey whose EC coordinates are full
// length (virtualwebauthn drops leading zeros, which WebAuthn libraries
// refuse).
func fullLengthPasskey(t *testing.T) virtualwebauthn.Credential {
	t.Helper()
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.X.Bytes()) == 32 && len(k.Y.Bytes()) == 32 {
			der, _ := x509.MarshalPKCS8PrivateKey(k)
			return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
		}
	}
}
