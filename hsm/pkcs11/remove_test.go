package pkcs11_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/hsm"
)

// TestTokenAwayAndBack moves the token's directory away and puts it back
// while one goroutine keeps signing: no panic, no hang, and signing resumes
// with the same key once the token is back, without reopening the custody.
// (SoftHSM2 serves from memory until it notices, so how many signings fail
// in between varies; the test logs it. Signing from several goroutines
// while the directory moves crashes SoftHSM2 2.6.1 itself, inside C_Sign,
// so the signer here is one goroutine: concurrency is TestConcurrentSigning's
// subject.)
func TestTokenAwayAndBack(t *testing.T) {
	ctx := context.Background()
	tk := newToken(t)
	c := open(t, tk)
	k, err := c.GenerateKey(ctx, "tsu", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	dir := tokenPath(t, tk)
	d := sha256.Sum256([]byte("x"))
	sign := func() error { _, err := k.Sign(nil, d[:], crypto.SHA256); return err }
	var ok, failed int
	signFor := func(dur time.Duration) {
		for end := time.Now().Add(dur); time.Now().Before(end); {
			if sign() != nil {
				failed++
			} else {
				ok++
			}
		}
	}
	signFor(20 * time.Millisecond)
	away := dir + ".away"
	if err := os.Rename(dir, away); err != nil {
		t.Fatal(err)
	}
	signFor(50 * time.Millisecond)
	if err := os.Rename(away, dir); err != nil {
		t.Fatal(err)
	}
	signFor(50 * time.Millisecond)
	t.Logf("%d signatures, %d failures while the token went away and came back", ok, failed)
	var last error
	for range 20 { // the custody reconnects on the next call after a failure
		if last = sign(); last == nil {
			break
		}
	}
	if last != nil {
		t.Fatalf("signing did not resume with the token back: %v", last)
	}
	again, err := c.Key(ctx, "tsu")
	if err != nil || !again.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
		t.Fatalf("key after the token came back: %v", err)
	}
}

// tokenPath finds the directory SoftHSM2 keeps tk in.
func tokenPath(t *testing.T, tk token) string {
	t.Helper()
	conf, err := os.ReadFile(os.Getenv("SOFTHSM2_CONF"))
	if err != nil {
		t.Fatal(err)
	}
	var tokens string
	for _, line := range strings.Split(string(conf), "\n") {
		if v, ok := strings.CutPrefix(line, "directories.tokendir = "); ok {
			tokens = v
		}
	}
	entries, err := os.ReadDir(tokens)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(tokens, e.Name(), "token.object"))
		if err == nil && bytes.Contains(b, []byte(tk.Label)) {
			return filepath.Join(tokens, e.Name())
		}
	}
	t.Fatalf("no directory for token %s", tk.Label)
	return ""
}
