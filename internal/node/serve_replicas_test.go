package node

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/pgtest"
)

// serveReplica is a `thiqa serve --store postgres://…` process.
type serveReplica struct {
	cmd   *exec.Cmd
	url   string
	admin *ca.AdminClient
}

func freeTCPAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startServe(t *testing.T, bin, dir, dsn string) *serveReplica {
	t.Helper()
	addr := freeTCPAddr(t)
	cmd := exec.Command(bin, "serve", "--data", dir, "--store", dsn, "--addr", addr)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("thiqa serve --data %s:\n%s", dir, out.String())
		}
	})
	r := &serveReplica{cmd: cmd, url: "http://" + addr}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(r.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("thiqa serve --data %s not ready after 60 s:\n%s", dir, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	admin, err := ca.DialAdmin(AdminSocket(dir))
	if err != nil {
		t.Fatal(err)
	}
	r.admin = admin
	return r
}

func issueVia(ctx context.Context, r *serveReplica, i int) (*x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, err
	}
	return r.admin.IssueFromCSR(ctx, ca.CitizenAuth, csr, ca.Subject{
		NationalID: fmt.Sprintf("98%08d", i), GivenName: "Sara", Surname: "Nasser", GivenNameAr: "سارة", SurnameAr: "ناصر"})
}

// TestServeReplicasOnePostgres runs two `thiqa serve` processes on one
// database: a revocation through one's admin socket shows in the other's
// OCSP within a second; then one is killed with SIGKILL in the middle of
// a load of issuances, every issuance it acknowledged is in the database,
// and the other goes on serving.
func TestServeReplicasOnePostgres(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "thiqa")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/thiqa/thiqa/cmd/thiqa").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dirA, dirB := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	if out, err := exec.Command(bin, "init", "--data", dirA, "--store", dsn).CombinedOutput(); err != nil {
		t.Fatalf("thiqa init: %v\n%s", err, out)
	}
	if err := os.CopyFS(dirB, os.DirFS(dirA)); err != nil {
		t.Fatal(err)
	}
	a := startServe(t, bin, dirA, dsn)
	b := startServe(t, bin, dirB, dsn)

	t.Run("revocation on B seen by A's OCSP", func(t *testing.T) {
		cert, err := issueVia(ctx, a, 1)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(a.url + "/ca/citizen-ca.cer")
		if err != nil {
			t.Fatal(err)
		}
		der, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		issuer, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("citizen CA certificate: %v", err)
		}
		req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
		if err != nil {
			t.Fatal(err)
		}
		status := func() int {
			t.Helper()
			resp, err := http.Post(a.url+ca.OCSPPath, "application/ocsp-request", bytes.NewReader(req))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			r, err := ocsp.ParseResponseForCert(body, cert, issuer)
			if err != nil {
				t.Fatalf("OCSP response of A: %v", err)
			}
			return r.Status
		}
		if status() != ocsp.Good {
			t.Fatal("fresh certificate not good")
		}
		if _, err := b.admin.Revoke(ctx, cert.SerialNumber, ca.ReasonKeyCompromise); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for status() != ocsp.Revoked {
			if time.Since(start) > time.Second {
				t.Fatal("A's OCSP still answers good a second after B revoked")
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("revocation through B seen by A's OCSP after %v", time.Since(start))
	})

	t.Run("kill -9 of B under load", func(t *testing.T) {
		var mu sync.Mutex
		var acked []*big.Int
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 4 {
			wg.Go(func() {
				for i := 0; i < 10000; i++ {
					select {
					case <-stop:
						return
					default:
					}
					cert, err := issueVia(ctx, b, 1000*w+i)
					if err != nil {
						return // B died: what it did not acknowledge may be lost
					}
					mu.Lock()
					acked = append(acked, cert.SerialNumber)
					mu.Unlock()
				}
			})
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= 20 {
				break
			}
			if time.Now().After(deadline) {
				close(stop)
				t.Fatalf("only %d issuances through B in 30 s", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		b.cmd.Wait()
		close(stop)
		wg.Wait()
		for _, serial := range acked {
			if _, err := a.admin.Lookup(ctx, serial); err != nil {
				t.Errorf("certificate %x acknowledged by B before its kill: %v", serial, err)
			}
		}
		if _, err := issueVia(ctx, a, 99999); err != nil {
			t.Fatalf("A after B's kill: %v", err)
		}
		t.Logf("%d issuances acknowledged by B before SIGKILL, all found through A", len(acked))
	})
}
