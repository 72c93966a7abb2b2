package pkcs11_test

import (
	"context"
	"os"
	"testing"

	"github.com/thiqa/thiqa/hsm/pkcs11"
	"github.com/thiqa/thiqa/hsm/pkcs11/softhsmtest"
)

func TestMain(m *testing.M) { os.Exit(softhsmtest.Main(m)) }

// softhsmModule is where Debian's softhsm2 package puts the module.
const softhsmModule = softhsmtest.Module

type token = softhsmtest.Token

func newToken(t testing.TB) token { t.Helper(); return softhsmtest.New(t) }

// open opens custody on tk with a key-encryption key, closed at the end.
func open(t testing.TB, tk token) *pkcs11.Custody {
	t.Helper()
	c, err := pkcs11.OpenURI(context.Background(), tk.URI(softhsmtest.PIN), &pkcs11.Options{CreateKEK: true})
	if err != nil {
		t.Fatalf("open %s: %v", tk.Label, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
