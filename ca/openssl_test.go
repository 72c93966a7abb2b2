package ca

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testtool"
)

// These tests check Thiqa's certificates, CRLs, OCSP and time-stamps with
// OpenSSL, an independent implementation. They run with a real clock,
// since openssl checks validity against the current time.

func writePEM(t *testing.T, path, typ string, ders ...[]byte) string {
	t.Helper()
	var b bytes.Buffer
	for _, d := range ders {
		pem.Encode(&b, &pem.Block{Type: typ, Bytes: d})
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runOpenSSL(t *testing.T, openssl string, args ...string) string {
	t.Helper()
	out, err := exec.Command(openssl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestOpenSSL(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	env := newEnv(t, time.Now().Add(-time.Minute))
	*env.now = time.Now()
	env.svc.opts.Clock = time.Now
	ctx := context.Background()
	dir := t.TempDir()
	cert := func(name string) *x509.Certificate { c, _ := env.svc.AuthorityCertificate(name); return c }
	root := writePEM(t, filepath.Join(dir, "root.pem"), "CERTIFICATE", cert(Root).Raw)
	inter := writePEM(t, filepath.Join(dir, "inter.pem"), "CERTIFICATE", cert(CitizenCA).Raw, cert(OrgCA).Raw)

	leaves := map[string]*x509.Certificate{
		"citizen-signing": env.issue(t, CitizenSigning),
		"citizen-auth":    env.issue(t, CitizenAuth),
		"eseal":           env.issue(t, ESeal),
		"tsu":             cert(TSU),
		"ocsp-citizen-ca": cert(OCSPPrefix + CitizenCA),
		"ocsp-org-ca":     cert(OCSPPrefix + OrgCA),
		"citizen-ca":      cert(CitizenCA),
		"org-ca":          cert(OrgCA),
	}
	t.Run("Verify", func(t *testing.T) {
		for name, c := range leaves {
			p := writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", c.Raw)
			out := runOpenSSL(t, openssl, "verify", "-x509_strict", "-CAfile", root, "-untrusted", inter, p)
			if !strings.Contains(out, ": OK") {
				t.Errorf("%s: %s", name, out)
			}
		}
		// The signing certificate is good for S/MIME-style signing, which is
		// what NSS-based PDF verifiers check.
		p := filepath.Join(dir, "citizen-signing.pem")
		if out := runOpenSSL(t, openssl, "verify", "-purpose", "smimesign", "-CAfile", root, "-untrusted", inter, p); !strings.Contains(out, ": OK") {
			t.Errorf("smimesign: %s", out)
		}
		if out := runOpenSSL(t, openssl, "verify", "-purpose", "timestampsign", "-CAfile", root, "-untrusted", inter, filepath.Join(dir, "tsu.pem")); !strings.Contains(out, ": OK") {
			t.Errorf("timestampsign: %s", out)
		}
	})

	signing := leaves["citizen-signing"]
	issuerPEM := writePEM(t, filepath.Join(dir, "ci.pem"), "CERTIFICATE", cert(CitizenCA).Raw)
	certPEM := filepath.Join(dir, "citizen-signing.pem")
	srv := httptest.NewServer(env.svc.Handler())
	defer srv.Close()
	ocspStatus := func(t *testing.T, extra ...string) string {
		t.Helper()
		args := append([]string{"ocsp", "-issuer", issuerPEM, "-cert", certPEM, "-url", srv.URL + "/ocsp", "-CAfile", root}, extra...)
		return runOpenSSL(t, openssl, args...)
	}
	t.Run("OCSP", func(t *testing.T) {
		out := ocspStatus(t)
		if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, certPEM+": good") || strings.Contains(out, "WARNING: no nonce") {
			t.Fatalf("before revocation:\n%s", out)
		}
		if out := ocspStatus(t, "-no_nonce"); !strings.Contains(out, ": good") {
			t.Fatalf("without nonce:\n%s", out)
		}
		if _, err := env.svc.Revoke(ctx, signing.SerialNumber, ReasonKeyCompromise); err != nil {
			t.Fatal(err)
		}
		out = ocspStatus(t, "-no_nonce")
		if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, ": revoked") || !strings.Contains(out, "Reason: keyCompromise") {
			t.Fatalf("after revocation:\n%s", out)
		}
	})
	t.Run("CRL", func(t *testing.T) {
		crl, err := env.svc.CRL(ctx, CitizenCA)
		if err != nil {
			t.Fatal(err)
		}
		p := writePEM(t, filepath.Join(dir, "crl.pem"), "X509 CRL", crl.DER)
		chain := writePEM(t, filepath.Join(dir, "chain.pem"), "CERTIFICATE", cert(CitizenCA).Raw, cert(Root).Raw)
		out := runOpenSSL(t, openssl, "crl", "-in", p, "-CAfile", chain, "-verify", "-noout", "-text")
		if !strings.Contains(out, "verify OK") || !strings.Contains(strings.ToLower(out), strings.ToLower(signing.SerialNumber.Text(16))) {
			t.Fatalf("openssl crl:\n%s", out)
		}
		rootCRL, _ := env.svc.CRL(ctx, Root)
		p = writePEM(t, filepath.Join(dir, "root-crl.pem"), "X509 CRL", rootCRL.DER)
		if out := runOpenSSL(t, openssl, "crl", "-in", p, "-CAfile", root, "-verify", "-noout"); !strings.Contains(out, "verify OK") {
			t.Fatalf("root CRL:\n%s", out)
		}
		// Full chain check with CRLs at every level.
		all := writePEM(t, filepath.Join(dir, "crls.pem"), "X509 CRL", crl.DER, rootCRL.DER)
		cmd := exec.Command(openssl, "verify", "-crl_check_all", "-CRLfile", all, "-CAfile", root, "-untrusted", inter, certPEM)
		out2, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out2), "certificate revoked") {
			t.Fatalf("verify with CRLs should report the revocation:\n%s", out2)
		}
		auth := writePEM(t, filepath.Join(dir, "auth.pem"), "CERTIFICATE", leaves["citizen-auth"].Raw)
		if out := runOpenSSL(t, openssl, "verify", "-crl_check_all", "-CRLfile", all, "-CAfile", root, "-untrusted", inter, auth); !strings.Contains(out, ": OK") {
			t.Fatalf("verify of a good certificate with CRLs:\n%s", out)
		}
	})
	t.Run("TSA", func(t *testing.T) {
		data := filepath.Join(dir, "doc.txt")
		os.WriteFile(data, []byte("a document to time-stamp"), 0o644)
		tsuChain := writePEM(t, filepath.Join(dir, "tsu-chain.pem"), "CERTIFICATE", cert(TSU).Raw, cert(OrgCA).Raw)
		for _, alg := range []string{"-sha256", "-sha384", "-sha512"} {
			q := filepath.Join(dir, "q.tsq")
			runOpenSSL(t, openssl, "ts", "-query", "-data", data, alg, "-cert", "-out", q)
			reply := filepath.Join(dir, "r.tsr")
			body, _ := os.ReadFile(q)
			resp, err := srv.Client().Post(srv.URL+"/tsa", "application/timestamp-query", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.Header.Get("Content-Type") != "application/timestamp-reply" {
				t.Fatalf("%s: content type %q", alg, resp.Header.Get("Content-Type"))
			}
			os.WriteFile(reply, b.Bytes(), 0o644)
			text := runOpenSSL(t, openssl, "ts", "-reply", "-in", reply, "-text")
			if !strings.Contains(text, "Status: Granted") || !strings.Contains(text, "Policy OID: 2.16.400.1.1.4") {
				t.Errorf("%s reply:\n%s", alg, text)
			}
			out := runOpenSSL(t, openssl, "ts", "-verify", "-data", data, "-in", reply, "-CAfile", root, "-untrusted", tsuChain)
			if !strings.Contains(out, "Verification: OK") {
				t.Errorf("%s verify:\n%s", alg, out)
			}
		}
	})
}
