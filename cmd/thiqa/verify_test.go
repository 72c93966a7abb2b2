package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/signer/validate"
)

// signedCorpusInput signs a corpus input at B-LT with a test PKI and
// returns the PKI and the signed bytes.
func signedCorpusInput(t *testing.T) (*testpki.PKI, []byte) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	in, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus", "inputs", "pdfsign", "testfile20.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	p := testpki.New(t, nil)
	var out bytes.Buffer
	err = signer.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, p.SignerKey, &signer.Options{
		Certificate: p.Signer, Chain: p.Chain(), Level: signer.LevelBLT, Time: p.Now,
		Timestamper: signer.TimestamperFunc(p.Authority.Token),
		Revocation:  &signer.HTTPRevocation{Clock: func() time.Time { return p.Now }},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, out.Bytes()
}

func TestVerifyCommand(t *testing.T) {
	p, signed := signedCorpusInput(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pdf")
	bad := filepath.Join(dir, "bad.pdf")
	root := filepath.Join(dir, "root.pem")
	tampered := append([]byte(nil), signed...)
	tampered[100] ^= 0x20 // inside the signed range
	for path, b := range map[string][]byte{
		good: signed, bad: tampered,
		root: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Root.Raw}),
	} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	at := p.Now.Add(time.Hour).Format(time.RFC3339)
	common := []string{"verify", "--data", filepath.Join(dir, "no-data"), "--at", at}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"trusted", []string{"--trust", root, good}, 0, "TOTAL-PASSED"},
		{"untrusted", []string{good}, 2, "NO_CERTIFICATE_CHAIN_FOUND"},
		{"tampered", []string{"--trust", root, bad}, 1, "HASH_FAILURE"},
		{"one failed among several", []string{"--trust", root, good, bad}, 1, "TOTAL-FAILED"},
		{"xml", []string{"--trust", root, "--format", "xml", good}, 0, "urn:etsi:019102:mainindication:total-passed"},
		{"missing file", []string{"--trust", root, filepath.Join(dir, "none.pdf")}, 2, "no such file"},
		{"no files", nil, 3, "no files"},
		{"bad format", []string{"--format", "yaml", good}, 3, "--format"},
		{"bad time", []string{"--at", "yesterday", good}, 3, "--at"},
		{"bad trust file", []string{"--trust", good, good}, 3, "no PEM certificate"},
		{"unknown flag", []string{"--bogus", good}, 3, "unknown flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := run(t, nil, append(append([]string(nil), common...), tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want %d; output without %q:\n%s", code, tc.code, tc.want, out)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		out, code := run(t, nil, append(common, "--trust", root, "--format", "json", good, good)...)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		var reps []validate.Report
		if err := json.Unmarshal([]byte(out), &reps); err != nil || len(reps) != 2 {
			t.Fatalf("not an array of two reports (%v):\n%s", err, out)
		}
		if reps[0].Schema != validate.SchemaVersion || reps[0].Signatures[0].Level != "B-LT" {
			t.Errorf("report %+v", reps[0])
		}
	})
}
