package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/internal/testtool"
)

// TestSignKeyFormats signs through "thiqa sign" with the key formats its
// --key flag promises beside PKCS#8 and PKCS#12 (SEC1 "EC PRIVATE KEY",
// PKCS#1 "RSA PRIVATE KEY"), at B-LTA with --location, and checks the
// refusals: a key that does not match --cert, a PEM that is not a key, an
// input that is not a PDF, a bad --visible. A failed run leaves an existing
// output file as it was and no temporary file beside it.
func TestSignKeyFormats(t *testing.T) {
	pdfsig := testtool.Require(t, "pdfsig")
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
	pemFile := func(name, typ string, der []byte) string {
		return write(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	in := write("in.pdf", testenv.OnePagePDF("Thiqa test document", 0))
	var chain []byte
	for _, c := range p.Chain() {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	chainPEM := write("chain.pem", chain)

	sec1DER, err := x509.MarshalECPrivateKey(p.SignerKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	sec1 := pemFile("sec1.pem", "EC PRIVATE KEY", sec1DER)
	ecCert := pemFile("ec.pem", "CERTIFICATE", p.Signer.Raw)
	rsaCert, rsaKey := p.IssueSigner(t, testpki.RSA2048, "RSA Signer")
	pkcs1 := pemFile("rsa.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey.(*rsa.PrivateKey)))
	rsaCertPEM := pemFile("rsa-cert.pem", "CERTIFICATE", rsaCert.Raw)

	sign := func(args ...string) error {
		cmd := newSignCmdWith(nil)
		cmd.SetArgs(args)
		cmd.SetOut(new(bytes.Buffer))
		cmd.SetErr(new(bytes.Buffer))
		return cmd.Execute()
	}
	for _, tt := range []struct {
		name string
		args []string
		sigs int
	}{
		{"SEC1 B-B", []string{"--key", sec1, "--cert", ecCert, "--chain", chainPEM}, 1},
		{"PKCS1 B-T", []string{"--key", pkcs1, "--cert", rsaCertPEM, "--chain", chainPEM, "--level", "B-T", "--tsa", p.TSAURL}, 1},
		{"SEC1 B-LTA", []string{"--key", sec1, "--cert", ecCert, "--chain", chainPEM, "--level", "B-LTA", "--tsa", p.TSAURL,
			"--location", "Irbid", "--reason", "Consent"}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".pdf")
			if err := sign(append([]string{"--in", in, "--out", out}, tt.args...)...); err != nil {
				t.Fatalf("thiqa sign: %v", err)
			}
			res, _ := exec.Command(pdfsig, "-nocert", out).CombinedOutput()
			if n := strings.Count(string(res), "Signature is Valid"); n != tt.sigs {
				t.Fatalf("pdfsig: %d valid signatures, want %d:\n%s", n, tt.sigs, res)
			}
			if strings.Contains(tt.name, "B-LTA") {
				b := must(os.ReadFile(out))
				for _, want := range []string{"/DSS", "/ETSI.RFC3161"} {
					if !bytes.Contains(b, []byte(want)) {
						t.Errorf("B-LTA output lacks %s", want)
					}
				}
				// Text strings are written as literals or in hex.
				for k, v := range map[string]string{"Location": "Irbid", "Reason": "Consent"} {
					if !bytes.Contains(b, []byte("/"+k+" ("+v+")")) && !bytes.Contains(b, []byte(fmt.Sprintf("/%s <%X>", k, v))) {
						t.Errorf("output lacks /%s %q", k, v)
					}
				}
			}
		})
	}

	t.Run("Refusals", func(t *testing.T) {
		out := write("existing.pdf", []byte("an earlier output\n"))
		notPDF := write("notes.txt", []byte("not a PDF at all\n"))
		for _, tt := range []struct {
			name string
			args []string
			want string
		}{
			{"key of another certificate", []string{"--in", in, "--key", sec1, "--cert", rsaCertPEM}, "does not match"},
			{"certificate as key", []string{"--in", in, "--key", ecCert, "--cert", ecCert}, "not a private key"},
			{"not a PDF", []string{"--in", notPDF, "--key", sec1, "--cert", ecCert}, "not a PDF"},
			{"missing input", []string{"--in", filepath.Join(dir, "none.pdf"), "--key", sec1, "--cert", ecCert}, "no such file"},
			{"bad visible", []string{"--in", in, "--key", sec1, "--cert", ecCert, "--visible", "1,2,3"}, "page,x,y,w,h"},
			{"visible page 0", []string{"--in", in, "--key", sec1, "--cert", ecCert, "--visible", "0,2,3,4,5"}, "bad page"},
			{"visible page past the end", []string{"--in", in, "--key", sec1, "--cert", ecCert, "--visible", "7,2,3,40,50"}, "no page 7"},
			{"unknown level", []string{"--in", in, "--key", sec1, "--cert", ecCert, "--level", "B-X"}, "B-X"},
			{"certify 4", []string{"--in", in, "--key", sec1, "--cert", ecCert, "--certify", "4"}, "certification permission 4"},
		} {
			err := sign(append(tt.args, "--out", out)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: err = %v, want one saying %q", tt.name, err, tt.want)
			}
		}
		if b := must(os.ReadFile(out)); string(b) != "an earlier output\n" {
			t.Errorf("a failed run changed the existing output: %q", b)
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".tmp") {
				t.Errorf("temporary file left behind: %s", e.Name())
			}
		}
	})
}
