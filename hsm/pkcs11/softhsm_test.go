package pkcs11_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/thiqa/thiqa/hsm/pkcs11"
	"github.com/thiqa/thiqa/internal/testtool"
)

// softhsmModule is where Debian's softhsm2 package puts the module.
const softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"

// tokenDir holds every token this test binary creates; TestMain points
// SOFTHSM2_CONF at it before any module is loaded and removes it at the end.
var (
	tokenDir    string
	tokenSerial atomic.Int64
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "thiqa-softhsm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tokenDir = filepath.Join(dir, "tokens")
	conf := filepath.Join(dir, "softhsm2.conf")
	err = os.Mkdir(tokenDir, 0o700)
	if err == nil {
		err = os.WriteFile(conf, []byte("directories.tokendir = "+tokenDir+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("SOFTHSM2_CONF", conf)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// token is a SoftHSM2 token made for one test.
type token struct {
	label string
	util  string
}

// uri returns the token's URI with the PIN given by value.
func (tk token) uri(pin string) string {
	return fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-value=%s", tk.label, softhsmModule, pin)
}

// newToken initialises a fresh token (user PIN 1234, SO PIN 5678) and
// deletes it when the test ends.
func newToken(t testing.TB) token {
	t.Helper()
	util := testtool.Require(t, "softhsm2-util")
	if _, err := os.Stat(softhsmModule); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("SoftHSM2 module: %v", err)
		}
		t.Skipf("SoftHSM2 module missing (apt-get install softhsm2): %v", err)
	}
	tk := token{label: fmt.Sprintf("thiqa-%d-%d", os.Getpid(), tokenSerial.Add(1)), util: util}
	tk.run(t, "--init-token", "--free", "--label", tk.label, "--pin", "1234", "--so-pin", "5678")
	t.Cleanup(func() {
		exec.Command(util, "--delete-token", "--token", tk.label).Run()
	})
	return tk
}

func (tk token) run(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(tk.util, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util %v: %v\n%s", args, err, out)
	}
}

// open opens custody on tk with a key-encryption key, closed at the end.
func open(t testing.TB, tk token) *pkcs11.Custody {
	t.Helper()
	c, err := pkcs11.OpenURI(context.Background(), tk.uri("1234"), &pkcs11.Options{CreateKEK: true})
	if err != nil {
		t.Fatalf("open %s: %v", tk.label, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
