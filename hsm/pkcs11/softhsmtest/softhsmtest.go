// Package softhsmtest makes SoftHSM2 tokens for tests of the PKCS#11
// backend and of what runs on it. Every token of a test binary lives in one
// temporary SOFTHSM2_CONF directory, set before the module is first loaded
// (the module reads it once per process) and removed by [Main]. It is
// imported only by tests.
package softhsmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/thiqa/thiqa/internal/testtool"
)

// Module is where Debian's softhsm2 package puts the PKCS#11 module.
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// PIN and SOPIN are the PINs of every test token.
const (
	PIN   = "1234"
	SOPIN = "5678"
)

var (
	setupOnce sync.Once
	confDir   string
	setupErr  error
	serial    atomic.Int64
)

// Main runs the tests and removes the token directory; call it from
// TestMain as os.Exit(softhsmtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	Cleanup()
	return code
}

// Cleanup removes the token directory, for a TestMain that runs the tests
// through another package's Main.
func Cleanup() {
	if confDir != "" {
		os.RemoveAll(confDir)
	}
}

func setup() {
	confDir, setupErr = os.MkdirTemp("", "thiqa-softhsm-")
	if setupErr != nil {
		return
	}
	tokens := filepath.Join(confDir, "tokens")
	conf := filepath.Join(confDir, "softhsm2.conf")
	if setupErr = os.Mkdir(tokens, 0o700); setupErr != nil {
		return
	}
	setupErr = os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	if setupErr == nil {
		setupErr = os.Setenv("SOFTHSM2_CONF", conf)
	}
}

// Token is a SoftHSM2 token made for one test.
type Token struct {
	Label string
	util  string
}

// New initialises a fresh token (PIN and SOPIN) with a unique label and
// deletes it when the test ends. Without softhsm2-util or the module the
// test fails under CI=true and is skipped otherwise.
func New(t testing.TB) Token {
	t.Helper()
	util := testtool.Require(t, "softhsm2-util")
	if _, err := os.Stat(Module); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("SoftHSM2 module: %v", err)
		}
		t.Skipf("SoftHSM2 module missing (apt-get install softhsm2): %v", err)
	}
	setupOnce.Do(setup)
	if setupErr != nil {
		t.Fatalf("SoftHSM2 configuration: %v", setupErr)
	}
	tk := Token{Label: fmt.Sprintf("thiqa-%d-%d", os.Getpid(), serial.Add(1)), util: util}
	tk.Util(t, "--init-token", "--free", "--label", tk.Label, "--pin", PIN, "--so-pin", SOPIN)
	t.Cleanup(func() {
		exec.Command(util, "--delete-token", "--token", tk.Label).Run()
	})
	return tk
}

// URI returns the token's PKCS#11 URI with the PIN given as pin-value.
func (tk Token) URI(pin string) string {
	return fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-value=%s", tk.Label, Module, pin)
}

// Util runs softhsm2-util with args, failing the test on error.
func (tk Token) Util(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(tk.util, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util %v: %v\n%s", args, err, out)
	}
}
