package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testtool"
)

// TestServedURLs follows, against a running thiqa serve, every URL the CA
// writes into certificates (issue 3: CRLs "served at the CDP URL", AIA
// caIssuers and OCSP): each caIssuers URL gives the DER certificate that
// signed the certificate, each CDP gives a CRL of that issuer with a
// future nextUpdate, and openssl, downloading the CRLs itself from the
// CDPs (-crl_download), accepts a fresh certificate and then reports it
// revoked after thiqa ca revoke.
func TestServedURLs(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	serve(t, data, addr)
	base := "http://" + addr
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	csrFile := write("c.csr", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))
	subj := write("s.json", []byte(`{"national_id":"1234567890","given_name":"Sara","surname":"Nasser","given_name_ar":"سارة","surname_ar":"ناصر"}`))
	leafFile := filepath.Join(dir, "leaf.pem")
	if out, code := run(t, nil, "--data", data, "ca", "issue", "--profile", "citizen-signing", "--csr", csrFile, "--subject-json", subj, "--out", leafFile); code != 0 {
		t.Fatalf("ca issue: exit %d\n%s", code, out)
	}
	block, _ := pem.Decode(must(os.ReadFile(leafFile)))
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}

	fetch := func(url string) []byte {
		t.Helper()
		if !strings.HasPrefix(url, base+"/") {
			t.Fatalf("URL %s is not under the served %s", url, base)
		}
		return get(t, url)
	}
	// Walk up from the leaf by caIssuers, checking each CDP on the way.
	cert := leaf
	var chain []*x509.Certificate
	for depth := 0; ; depth++ {
		if depth > 3 {
			t.Fatal("caIssuers chain longer than 3")
		}
		if len(cert.IssuingCertificateURL) != 1 || len(cert.CRLDistributionPoints) != 1 {
			t.Fatalf("%s: caIssuers %v, CDP %v", cert.Subject, cert.IssuingCertificateURL, cert.CRLDistributionPoints)
		}
		issuer, err := x509.ParseCertificate(fetch(cert.IssuingCertificateURL[0]))
		if err != nil {
			t.Fatalf("caIssuers of %s: %v", cert.Subject, err)
		}
		if err := cert.CheckSignatureFrom(issuer); err != nil {
			t.Fatalf("caIssuers of %s gives %s, which did not sign it: %v", cert.Subject, issuer.Subject, err)
		}
		crl, err := x509.ParseRevocationList(fetch(cert.CRLDistributionPoints[0]))
		if err != nil {
			t.Fatalf("CDP of %s: %v", cert.Subject, err)
		}
		if err := crl.CheckSignatureFrom(issuer); err != nil {
			t.Errorf("CRL at %s not signed by %s: %v", cert.CRLDistributionPoints[0], issuer.Subject, err)
		}
		if !crl.NextUpdate.After(time.Now()) {
			t.Errorf("CRL at %s: nextUpdate %s has passed", cert.CRLDistributionPoints[0], crl.NextUpdate)
		}
		chain = append(chain, issuer)
		if string(issuer.RawSubject) == string(issuer.RawIssuer) {
			break
		}
		cert = issuer
	}
	if len(leaf.OCSPServer) != 1 || leaf.OCSPServer[0] != base+"/ocsp" {
		t.Errorf("OCSP URL %v, want %s/ocsp", leaf.OCSPServer, base)
	}
	root := chain[len(chain)-1]
	rootFile := write("root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}))
	var inter []byte
	for _, c := range chain[:len(chain)-1] {
		inter = append(inter, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	interFile := write("inter.pem", inter)

	// -crl_check checks the certificate given; the self-signed root has
	// no CDP, so each issuing CA is checked as a certificate of its own.
	verify := func(file string) string {
		t.Helper()
		out, _ := exec.Command(openssl, "verify", "-crl_check", "-crl_download", "-CAfile", rootFile, "-untrusted", interFile, file).CombinedOutput()
		return string(out)
	}
	for i, c := range chain[:len(chain)-1] {
		f := write(fmt.Sprintf("ca%d.pem", i), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
		if out := verify(f); !strings.Contains(out, f+": OK") {
			t.Fatalf("openssl verify of %s with the CRL from its CDP:\n%s", c.Subject, out)
		}
	}
	if out := verify(leafFile); !strings.Contains(out, leafFile+": OK") {
		t.Fatalf("openssl verify with the CRL from the CDP:\n%s", out)
	}
	if out, code := run(t, nil, "--data", data, "ca", "revoke", leaf.SerialNumber.Text(16), "--reason", "keyCompromise"); code != 0 {
		t.Fatalf("ca revoke: exit %d\n%s", code, out)
	}
	if out := verify(leafFile); !strings.Contains(out, "certificate revoked") {
		t.Fatalf("openssl verify after revocation, CRLs from the CDPs:\n%s", out)
	}
	// The DER and PEM forms of the CRL are the same CRL.
	der := fetch(leaf.CRLDistributionPoints[0])
	pemURL := strings.TrimSuffix(leaf.CRLDistributionPoints[0], ".crl") + ".pem"
	resp, err := http.Get(pemURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var pb [1 << 16]byte
	n, _ := resp.Body.Read(pb[:])
	if blk, _ := pem.Decode(pb[:n]); blk == nil || blk.Type != "X509 CRL" || string(blk.Bytes) != string(der) {
		t.Errorf("%s is not the PEM of %s", pemURL, leaf.CRLDistributionPoints[0])
	}
}
