package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeTLSAndRelyingParty: serve --tls-cert/--tls-key answers over
// HTTPS, and --webauthn-rp-id/--webauthn-origin set the passkey relying
// party that sign-in asks the phone for.
func TestServeTLSAndRelyingParty(t *testing.T) {
	dir := t.TempDir()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "thiqa.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(k)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)

	if out, code := run(t, nil, "serve", "--data", filepath.Join(dir, "bad"), "--addr", freeAddr(t), "--tls-cert", certFile); code == 0 || !strings.Contains(out, "key") {
		t.Fatalf("--tls-cert without --tls-key: exit %d: %s", code, out)
	}

	if out, code := run(t, nil, "serve", "--data", filepath.Join(dir, "bad"), "--addr", freeAddr(t), "--trusted-proxy", "10.0.0.0/99"); code == 0 || !strings.Contains(out, "--trusted-proxy") {
		t.Fatalf("bad --trusted-proxy: exit %d: %s", code, out)
	}

	addr := freeAddr(t)
	_, printed := serve(t, filepath.Join(dir, "data"), addr, "--tls-cert", certFile, "--tls-key", keyFile,
		"--webauthn-rp-id", "thiqa.test", "--webauthn-origin", "https://thiqa.test", "--issuer", "https://thiqa.test/oidc",
		"--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "192.0.2.1")
	if !strings.Contains(printed, "serving on https://"+addr) {
		t.Fatalf("serve printed:\n%s", printed)
	}
	roots := x509.NewCertPool()
	c, _ := x509.ParseCertificate(der)
	roots.AddCert(c)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second}
	resp, err := client.Post("https://"+addr+"/api/v1/signin/begin", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"rpId":"thiqa.test"`) {
		t.Fatalf("sign-in begin over TLS: %d %s", resp.StatusCode, body)
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP served on the TLS address")
		}
	}
}
