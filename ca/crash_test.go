package ca

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/store"
)

// TestCrashSafety issues certificates from many goroutines in a child
// process, kills it with SIGKILL mid-way, and checks that every certificate
// the child acknowledged (printed after Issue returned) is in the store,
// intact, and that no serial repeats.
func TestCrashSafety(t *testing.T) {
	if dir := os.Getenv("THIQA_CRASH_CHILD"); dir != "" {
		crashChild(t, dir)
		return
	}
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
	if _, err := Init(ctx, DefaultConfig(), keys, st, Options{}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$", "-test.v=false")
	cmd.Env = append(os.Environ(), "THIQA_CRASH_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var serial string
		if _, err := fmt.Sscanf(sc.Text(), "issued %s", &serial); err == nil {
			acked[serial] = true
		}
		if len(acked) == 300 {
			cmd.Process.Signal(syscall.SIGKILL)
			break
		}
	}
	cmd.Wait()
	if len(acked) < 300 {
		t.Fatalf("child acknowledged only %d certificates before it ended", len(acked))
	}

	st, err = store.OpenBolt(filepath.Join(dir, "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored := map[string]bool{}
	after := ""
	for {
		page, err := st.Certificates(ctx, "", store.Page{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			if stored[c.Serial] {
				t.Errorf("serial %s stored twice", c.Serial)
			}
			stored[c.Serial] = true
			cert, err := x509.ParseCertificate(c.DER)
			if err != nil || SerialString(cert.SerialNumber) != c.Serial {
				t.Errorf("stored certificate %s is damaged: %v", c.Serial, err)
			}
		}
		after = page[len(page)-1].Serial
	}
	for s := range acked {
		if !stored[s] {
			t.Errorf("acknowledged certificate %s lost", s)
		}
	}
	t.Logf("%d acknowledged, %d stored (issued but not yet acknowledged when killed: %d)", len(acked), len(stored), len(stored)-len(acked))
}

func crashChild(t *testing.T, dir string) {
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
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	deadline := time.Now().Add(2 * time.Minute) // bounded even if never killed
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				c, err := svc.Issue(ctx, Request{Profile: CitizenSigning, PublicKey: k.Public(), Subject: citizen()})
				if err != nil {
					fmt.Fprintln(os.Stderr, "issue:", err)
					return
				}
				mu.Lock()
				fmt.Fprintf(w, "issued %s\n", SerialString(c.SerialNumber))
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
