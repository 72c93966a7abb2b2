package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/loadtest"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/signing"
)

// TestCitizenFlowOnHSM runs the citizen's whole flow with every key on a
// SoftHSM2 token: the key ceremony on the token, enrolment and activation
// (each citizen's keys made on the token and kept wrapped in the store),
// then thiqa serve on the token, where agencies' sign requests are
// approved with the citizens' passkeys over HTTP (each signature unwraps
// a key into a session object on the token); every signed PDF passes
// thiqa verify with the node's root, and the audit log verifies.
//
// This is the only test of the package that loads the SoftHSM2 module in
// its own process (the module reads SOFTHSM2_CONF once per process); the
// other HSM tests use it only in thiqa subprocesses.
func TestCitizenFlowOnHSM(t *testing.T) {
	ctx := context.Background()
	env, uri := softhsmToken(t)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("THIQA_HSM", uri)
	data := filepath.Join(t.TempDir(), "data")

	n, _, err := node.Open(ctx, node.Options{Dir: data, Create: true, CA: ca.DefaultConfig(), HSM: uri})
	if err != nil {
		t.Fatal(err)
	}
	var phones []*loadtest.Phone
	for _, ph := range testenv.Citizens(t, n.Enrollment, "98677700", 2) {
		phones = append(phones, &loadtest.Phone{NationalID: ph.NationalID, RP: testenv.RP, Auth: ph.Auth, Cred: ph.Cred})
	}
	key, err := n.Signing.AddAgency(ctx, signing.NewAgency{Name: "HSM Agency", Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	if _, err := os.Stat(filepath.Join(data, "kek")); !os.IsNotExist(err) {
		t.Fatalf("a software KEK file was written beside the token (stat: %v)", err)
	}

	addr := freeAddr(t)
	srv, _ := serve(t, data, addr)
	base := "http://" + addr
	pdf := testenv.CorpusPDF(t, "testfile20.pdf")
	var (
		mu     sync.Mutex
		signed []string
	)
	const approvals = 4
	res, err := loadtest.Run(ctx, loadtest.Config{Base: base, Workers: 2, MaxOps: approvals, For: 2 * time.Minute, Seed: 8,
		Ops: []loadtest.Op{loadtest.Approve(1, key.Key, pdf, phones, func(id string) {
			mu.Lock()
			signed = append(signed, id)
			mu.Unlock()
		})}})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Ops["approve"]; s == nil || s.Count != approvals || s.Errors != 0 || len(signed) != approvals {
		t.Fatalf("approvals on the token: %+v, %d signed", s, len(signed))
	}
	dir := t.TempDir()
	var docs []string
	for i, id := range signed {
		b := getAuth(t, base+"/api/v1/sign-requests/"+id+"/documents/0/signed", key.Key)
		doc := filepath.Join(dir, "signed-"+string(rune('a'+i))+".pdf")
		must(0, os.WriteFile(doc, b, 0o600))
		docs = append(docs, doc)
	}
	srv.Process.Signal(os.Interrupt)
	srv.Wait()

	out, code := run(t, nil, append([]string{"verify", "--data", data}, docs...)...)
	if code != verifyPassed || strings.Count(out, "TOTAL-PASSED") < approvals {
		t.Fatalf("thiqa verify of the PDFs signed on the token: exit %d\n%s", code, out)
	}
	if out, code := run(t, nil, "audit", "verify", "--data", data); code != 0 {
		t.Fatalf("audit verify: exit %d\n%s", code, out)
	}
	// On the token: the authorities' keys, the audit and OpenID keys and
	// the KEK; no citizen key is left behind by the signatures.
	out, code = run(t, nil, "hsm", "status")
	if code != 0 || !strings.Contains(out, "KEK       thiqa-kek-1 (current") {
		t.Fatalf("hsm status after the flow: exit %d\n%s", code, out)
	}
	_, keys, _ := strings.Cut(out, " on the token\n")
	keys, _, _ = strings.Cut(keys, "KEK ")
	names := strings.Fields(keys)
	if len(names) != 8 {
		t.Errorf("%d keys on the token, want 8 (6 authorities, audit, OpenID): %v", len(names), names)
	}
	for _, k := range names {
		if !slices.ContainsFunc([]string{"root-", "citizen-ca-", "org-ca-", "ocsp-citizen-ca-", "ocsp-org-ca-", "tsu-", "audit-log", "oidc-signing-1"},
			func(p string) bool { return strings.HasPrefix(k, p) }) {
			t.Errorf("unexpected key on the token: %s", k)
		}
	}
	t.Logf("%d approvals signed with keys unwrapped on the token; hsm status:\n%s", approvals, out)
}
