package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/signing"
)

// selfSigned makes a certificate and key for tests; with ip set it is a
// server certificate for that address.
func selfSigned(t *testing.T, cn string, ip net.IP) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true}
	if ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, k
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAgencyMutualTLS: over a real TLS connection, an agency presenting
// its e-seal certificate, issued by Thiqa's organisation CA, is
// authenticated by it; without a certificate the agency API refuses the
// request; a certificate of another CA fails the handshake.
func TestAgencyMutualTLS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n, _, err := Open(ctx, Options{Dir: filepath.Join(dir, "data"), Create: true, CA: ca.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()

	srvCert, srvKey := selfSigned(t, "thiqa.test", net.IPv4(127, 0, 0, 1))
	keyDER, _ := x509.MarshalPKCS8PrivateKey(srvKey)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePEM(t, certFile, "CERTIFICATE", srvCert.Raw)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	cfg, wrap, err := n.TLS(certFile, keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(wrap(n.Handler()))
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	defer srv.Close()

	// The agency's e-seal, issued by the organisation CA.
	sealKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	seal, err := n.CA.Issue(ctx, ca.Request{Profile: ca.ESeal, PublicKey: sealKey.Public(),
		Subject: ca.Subject{Organization: "Ministry of Justice", OrgIdentifier: "GOVJO-100200300"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Signing.AddAgency(ctx, signing.NewAgency{Name: "Justice", Scopes: []string{signing.ScopeSignRequests}, CertDER: seal.Raw}); err != nil {
		t.Fatal(err)
	}
	org, _ := n.CA.AuthorityCertificate(ca.OrgCA)
	otherCert, otherKey := selfSigned(t, "Not an e-seal", nil)

	roots := x509.NewCertPool()
	roots.AddCert(srvCert)
	client := func(cert *tls.Certificate) *http.Client {
		c := &tls.Config{RootCAs: roots}
		if cert != nil {
			// Sent whatever CAs the server names (Go's client would
			// otherwise send none that does not match).
			c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: c}, Timeout: 10 * time.Second}
	}
	get := func(c *http.Client) (int, error) {
		resp, err := c.Get(srv.URL + "/api/v1/sign-requests/nope")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	sealTLS := &tls.Certificate{Certificate: [][]byte{seal.Raw, org.Raw}, PrivateKey: sealKey}
	if code, err := get(client(sealTLS)); err != nil || code != 404 {
		t.Errorf("agency with its e-seal: %d, %v; want 404 (authenticated; no such request)", code, err)
	}
	if code, err := get(client(nil)); err != nil || code != 401 {
		t.Errorf("no client certificate: %d, %v; want 401", code, err)
	}
	other := &tls.Certificate{Certificate: [][]byte{otherCert.Raw}, PrivateKey: otherKey}
	if code, err := get(client(other)); err == nil {
		t.Errorf("certificate of another CA: %d, want the handshake refused", code)
	} else if !strings.Contains(err.Error(), "tls") && !strings.Contains(err.Error(), "certificate") {
		t.Errorf("certificate of another CA: %v", err)
	}
	// Another e-seal of the organisation CA, of no registered agency.
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	seal2, err := n.CA.Issue(ctx, ca.Request{Profile: ca.ESeal, PublicKey: k2.Public(),
		Subject: ca.Subject{Organization: "Unregistered", OrgIdentifier: "GOVJO-999"}})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := get(client(&tls.Certificate{Certificate: [][]byte{seal2.Raw, org.Raw}, PrivateKey: k2})); err != nil || code != 401 {
		t.Errorf("unregistered e-seal: %d, %v; want 401", code, err)
	}
	// The public endpoints need no certificate.
	resp, err := client(nil).Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz over TLS: %v", err)
	}
	resp.Body.Close()
}
