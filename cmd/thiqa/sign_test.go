package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/internal/testpki"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/thiqa/thiqa/internal/testtool"
)

func TestSignCommand(t *testing.T) {
	// The command checks OCSP and CRL freshness against the wall clock.
	p := testpki.New(t, &testpki.Options{Now: time.Now().UTC().Truncate(time.Second)})
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	in := write("in.pdf", testenv.OnePagePDF("Thiqa test document", 0))
	der, err := x509.MarshalPKCS8PrivateKey(p.SignerKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := write("key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	certPEM := write("cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Signer.Raw}))
	var chain []byte
	for _, c := range p.Chain() {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	chainPEM := write("chain.pem", chain)
	pfx, err := pkcs12.Modern.Encode(p.SignerKey, p.Signer, p.Chain(), "secret")
	if err != nil {
		t.Fatal(err)
	}
	p12 := write("key.p12", pfx)
	pass := write("pass.txt", []byte("secret\n"))

	tests := []struct {
		name string
		args []string
	}{
		{"pem B-B", []string{"--key", keyPEM, "--cert", certPEM, "--chain", chainPEM}},
		{"pkcs12 B-LT visible", []string{"--key", p12, "--key-password-file", pass, "--level", "B-LT", "--tsa", p.TSAURL,
			"--visible", "1,300,50,260,100", "--name-ar", "ليلى", "--reason", "Approval", "--verify-url", "https://verify.example/s/"}},
		{"certify B-T", []string{"--key", keyPEM, "--cert", certPEM, "--chain", chainPEM, "--level", "B-T", "--tsa", p.TSAURL, "--certify", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".pdf")
			cmd := newSignCmdWith(nil)
			cmd.SetArgs(append([]string{"--in", in, "--out", out}, tt.args...))
			var stdout bytes.Buffer
			cmd.SetOut(&stdout)
			if err := cmd.Execute(); err != nil {
				t.Fatalf("thiqa sign: %v", err)
			}
			pdfsig := testtool.Require(t, "pdfsig")
			res, _ := exec.Command(pdfsig, "-nocert", out).CombinedOutput()
			if !strings.Contains(string(res), "Signature is Valid") {
				t.Fatalf("pdfsig:\n%s", res)
			}
		})
	}
	// Bad flags are errors, and no output file appears.
	cmd := newSignCmdWith(nil)
	bad := filepath.Join(dir, "bad.pdf")
	cmd.SetArgs([]string{"--in", in, "--out", bad, "--key", keyPEM, "--cert", certPEM, "--level", "B-T"})
	cmd.SetOut(new(bytes.Buffer))
	cmd.SetErr(new(bytes.Buffer))
	if err := cmd.Execute(); err == nil {
		t.Fatal("B-T without --tsa accepted")
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatal("output written on failure")
	}
}

// TestSignCustodyKey signs with a key held in the data directory's key
// custody (--key custody:ID).
func TestSignCustodyKey(t *testing.T) {
	ctx := context.Background()
	g := &globals{dataDir: filepath.Join(t.TempDir(), "data")}
	cfg := ca.DefaultConfig()
	n, _, err := node.Open(ctx, g.nodeOptions(true, &cfg))
	if err != nil {
		t.Fatal(err)
	}
	key, err := n.Keys.GenerateKey(ctx, "test-seal", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Seal"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	dir := t.TempDir()
	in, certPEM := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "seal.pem")
	if err := os.WriteFile(in, testenv.OnePagePDF("Thiqa test document", 0), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.pdf")
	cmd := newSignCmdWith(g)
	cmd.SetArgs([]string{"--in", in, "--out", out, "--key", "custody:test-seal", "--cert", certPEM})
	cmd.SetOut(new(bytes.Buffer))
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("thiqa sign: %v", err)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
	// Without a data directory, custody keys are refused.
	cmd = newSignCmdWith(nil)
	cmd.SetArgs([]string{"--in", in, "--out", out + "2", "--key", "custody:test-seal", "--cert", certPEM})
	cmd.SetOut(new(bytes.Buffer))
	cmd.SetErr(new(bytes.Buffer))
	if err := cmd.ExecuteContext(ctx); err == nil {
		t.Fatal("custody key accepted without a data directory")
	}
}
