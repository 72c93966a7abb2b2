// Package testtool finds the external programs that tests use as
// independent checkers (openssl, pdfsig, qpdf, pdfcpu, softhsm2-util) and the
// browser of the page tests (chromium). Under
// CI=true a missing program fails the test; elsewhere the test is skipped
// with a message saying how to install it. It is imported only by tests.
package testtool

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// hints say how ./scripts/test installs each program.
var hints = map[string]string{
	"openssl":       "apt-get install openssl",
	"pdfsig":        "apt-get install poppler-utils",
	"pdftotext":     "apt-get install poppler-utils",
	"pdftoppm":      "apt-get install poppler-utils",
	"pdfinfo":       "apt-get install poppler-utils",
	"qpdf":          "apt-get install qpdf",
	"softhsm2-util": "apt-get install softhsm2",
	"chromium":      "apt-get install chromium",
	"pdfcpu":        "go install github.com/pdfcpu/pdfcpu/cmd/pdfcpu@v0.15.0",
}

// Require returns the path of the named program, looking in PATH and in
// $(go env GOPATH)/bin. When it is missing the test fails under CI=true and
// is skipped otherwise.
func Require(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	if p := filepath.Join(gopath, "bin", name); gopath != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := name + " is not installed (./scripts/test installs it: " + hints[name] + ")"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
