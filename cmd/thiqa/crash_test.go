package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/thiqa/thiqa/internal/testtool"
)

// TestCrashUnderLoad kills thiqa serve with SIGKILL while three clients
// issue certificates through the admin socket and query OCSP, restarts it,
// and checks that every certificate whose issuance was acknowledged is
// there and answered "good" by OCSP, and that the audit log verifies. The
// load is bounded: at most 60 issuances per client.
func TestCrashUnderLoad(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	srv, _ := serve(t, data, addr)
	base := "http://" + addr
	dir := t.TempDir()
	root := filepath.Join(dir, "root.pem")
	os.WriteFile(root, get(t, base+"/ca/root.pem"), 0o600)
	issuer := filepath.Join(dir, "ci.pem")
	os.WriteFile(issuer, get(t, base+"/ca/citizen-ca.pem"), 0o600)
	subj := filepath.Join(dir, "s.json")
	os.WriteFile(subj, []byte(citizenSubject), 0o600)
	ocsp := func(cert string) (string, error) {
		out, err := exec.Command(openssl, "ocsp", "-issuer", issuer, "-cert", cert, "-url", base+"/ocsp", "-CAfile", root).CombinedOutput()
		return string(out), err
	}

	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	killed := make(chan struct{})
	for c := range 3 {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
		csrFile := filepath.Join(dir, fmt.Sprintf("c%d.csr", c))
		os.WriteFile(csrFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}), 0o600)
		wg.Go(func() {
			for i := range 60 {
				out := filepath.Join(dir, fmt.Sprintf("c%d-%d.pem", c, i))
				cmd := exec.Command(thiqaBin, "--data", data, "ca", "issue", "--profile", "citizen-signing", "--csr", csrFile, "--subject-json", subj, "--out", out)
				err := cmd.Run()
				select {
				case <-killed:
					return // the answer may have raced the kill: not counted
				default:
				}
				if err != nil {
					t.Errorf("ca issue before the kill: %v", err)
					return
				}
				mu.Lock()
				acked = append(acked, out)
				mu.Unlock()
				ocsp(out) // OCSP load; answers checked after the restart
			}
		})
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 6 })
	if err := srv.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	close(killed)
	srv.Wait()
	wg.Wait()

	srv2, _ := serve(t, data, addr)
	for _, cert := range acked {
		b, err := os.ReadFile(cert)
		if err != nil {
			t.Fatalf("acknowledged certificate file: %v", err)
		}
		block, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		serial := c.SerialNumber.Text(16)
		if out, code := run(t, nil, "--data", data, "ca", "show", serial); code != 0 {
			t.Fatalf("acknowledged certificate %s missing after the crash: %d\n%s", serial, code, out)
		}
		if out, err := ocsp(cert); err != nil || !strings.Contains(out, cert+": good") {
			t.Fatalf("OCSP for %s after the crash: %v\n%s", serial, err, out)
		}
	}
	srv2.Process.Signal(os.Interrupt)
	srv2.Wait()
	if out, code := run(t, nil, "--data", data, "audit", "verify"); code != 0 || !strings.Contains(out, "OK ") {
		t.Fatalf("audit verify after the crash: exit %d\n%s", code, out)
	}
	t.Logf("%d issuances acknowledged before SIGKILL, all present after the restart", len(acked))
}
