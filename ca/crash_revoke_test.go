package ca

import (
	"bufio"
	"context"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/store"
)

// TestCrashRevocations is TestCrashSafety for status changes (issue 3:
// "every issued certificate, revocation and CRL number is stored before it
// is returned"): a child process revokes certificates from many goroutines
// and prints each revocation, with the number of the CRL it then serves,
// after Revoke returns; it is killed with SIGKILL mid-way. Every
// acknowledged revocation must be stored, listed by the latest stored CRL,
// and no CRL number served before the crash may be issued again.
func TestCrashRevocations(t *testing.T) {
	if dir := os.Getenv("THIQA_CRASH_REVOKE_CHILD"); dir != "" {
		crashRevokeChild(t, dir)
		return
	}
	const certs, killAfter = 160, 60
	dir := t.TempDir()
	kek := make([]byte, hsm.KEKSize)
	rand.Read(kek)
	os.WriteFile(filepath.Join(dir, "kek"), []byte(hex.EncodeToString(kek)), 0o600)
	ctx := context.Background()
	keys, _ := hsm.OpenSoftware(filepath.Join(dir, "keys"), kek, nil)
	st, err := store.OpenBolt(filepath.Join(dir, "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := Init(ctx, DefaultConfig(), keys, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var serials []string
	for range certs {
		c, err := svc.Issue(ctx, Request{Profile: CitizenSigning, PublicKey: ecKey(t, elliptic.P256()).Public(), Subject: citizen()})
		if err != nil {
			t.Fatal(err)
		}
		serials = append(serials, SerialString(c.SerialNumber))
	}
	st.Close()
	os.WriteFile(filepath.Join(dir, "serials"), []byte(strings.Join(serials, "\n")), 0o600)

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRevocations$", "-test.v=false")
	cmd.Env = append(os.Environ(), "THIQA_CRASH_REVOKE_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	var maxCRL int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var serial string
		var n int64
		if _, err := fmt.Sscanf(sc.Text(), "revoked %s crl %d", &serial, &n); err == nil {
			acked[serial] = true
			maxCRL = max(maxCRL, n)
		}
		if len(acked) == killAfter {
			cmd.Process.Signal(syscall.SIGKILL)
			break
		}
	}
	cmd.Wait()
	if len(acked) < killAfter {
		t.Fatalf("child acknowledged only %d revocations before it ended", len(acked))
	}

	keys, _ = hsm.OpenSoftware(filepath.Join(dir, "keys"), kek, nil)
	st, err = store.OpenBolt(filepath.Join(dir, "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err = Open(ctx, keys, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for s := range acked {
		c, err := st.Certificate(ctx, s)
		if err != nil || c.Status != store.StatusRevoked || Reason(c.Reason) != ReasonKeyCompromise {
			t.Errorf("acknowledged revocation of %s lost: %+v %v", s, c.Status, err)
		}
	}
	listed := func(crl store.CRL) map[string]bool {
		t.Helper()
		rl, err := x509.ParseRevocationList(crl.DER)
		if err != nil {
			t.Fatal(err)
		}
		if rl.Number.Int64() != crl.Number {
			t.Fatalf("stored CRL number %d, the CRL says %v", crl.Number, rl.Number)
		}
		m := map[string]bool{}
		for _, e := range rl.RevokedCertificateEntries {
			m[SerialString(e.SerialNumber)] = true
		}
		return m
	}
	latest, err := st.LatestCRL(ctx, CitizenCA)
	if err != nil {
		t.Fatal(err)
	}
	if latest.Number < maxCRL {
		t.Errorf("latest stored CRL number %d, but %d was served before the crash", latest.Number, maxCRL)
	}
	onLatest := listed(latest)
	for s := range acked {
		if !onLatest[s] {
			t.Errorf("acknowledged revocation of %s not on the latest stored CRL (number %d)", s, latest.Number)
		}
	}
	fresh, err := svc.FreshCRL(ctx, CitizenCA)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Number <= latest.Number {
		t.Errorf("CRL after restart has number %d, not above the stored %d", fresh.Number, latest.Number)
	}
	onFresh := listed(fresh)
	for s := range acked {
		if !onFresh[s] {
			t.Errorf("%s missing from the CRL issued after restart", s)
		}
	}
	t.Logf("%d revocations acknowledged, CRL %d served before the crash, %d after", len(acked), maxCRL, fresh.Number)
}

func crashRevokeChild(t *testing.T, dir string) {
	ctx := context.Background()
	raw, _ := os.ReadFile(filepath.Join(dir, "kek"))
	kek, _ := hex.DecodeString(string(raw))
	keys, err := hsm.OpenSoftware(filepath.Join(dir, "keys"), kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenBolt(filepath.Join(dir, "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := Open(ctx, keys, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := os.ReadFile(filepath.Join(dir, "serials"))
	serials := strings.Split(string(list), "\n")
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	deadline := time.Now().Add(2 * time.Minute) // bounded even if never killed
	var wg sync.WaitGroup
	const workers = 8
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; j < len(serials) && time.Now().Before(deadline); j += workers {
				n, err := ParseSerial(serials[j])
				if err != nil {
					fmt.Fprintln(os.Stderr, "serial:", err)
					return
				}
				if _, err := svc.Revoke(ctx, n, ReasonKeyCompromise); err != nil {
					fmt.Fprintln(os.Stderr, "revoke:", err)
					return
				}
				crl, err := svc.CRL(ctx, CitizenCA)
				if err != nil {
					fmt.Fprintln(os.Stderr, "crl:", err)
					return
				}
				mu.Lock()
				fmt.Fprintf(w, "revoked %s crl %d\n", serials[j], crl.Number)
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
