package pkcs11_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/thiqa/thiqa/hsm/pkcs11"
)

func TestParseURI(t *testing.T) {
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	if err := os.WriteFile(pinFile, []byte("98765\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const mod = "module-path=/usr/lib/softhsm/libsofthsm2.so"
	good := []struct {
		uri  string
		want pkcs11.Config
	}{
		{"pkcs11:token=thiqa?" + mod + "&pin-value=1234",
			pkcs11.Config{ModulePath: "/usr/lib/softhsm/libsofthsm2.so", Token: "thiqa", PIN: "1234"}},
		{"pkcs11:token=thiqa;object=root-kek;serial=abc?" + mod + "&pin-source=file:" + pinFile + "&max-sessions=4",
			pkcs11.Config{ModulePath: "/usr/lib/softhsm/libsofthsm2.so", Token: "thiqa", Serial: "abc", KEKLabel: "root-kek", PIN: "98765", MaxSessions: 4}},
		{"pkcs11:token=Thiqa%20Prod%3B1?" + mod + "&pin-source=" + pinFile,
			pkcs11.Config{ModulePath: "/usr/lib/softhsm/libsofthsm2.so", Token: "Thiqa Prod;1", PIN: "98765"}},
	}
	for _, tc := range good {
		t.Run(tc.uri, func(t *testing.T) {
			got, err := pkcs11.ParseURI(tc.uri)
			if err != nil {
				t.Fatalf("ParseURI: %v", err)
			}
			if got != tc.want {
				t.Fatalf("ParseURI = %+v, want %+v", got, tc.want)
			}
			again, err := pkcs11.ParseURI(got.String() + "&pin-value=x")
			if err != nil || again.Token != got.Token || again.ModulePath != got.ModulePath || again.KEKLabel != got.KEKLabel {
				t.Fatalf("String() does not parse back: %q: %+v, %v", got.String(), again, err)
			}
		})
	}
	bad := []string{
		"",
		"pkcs12:token=thiqa?" + mod + "&pin-value=1",
		"pkcs11:?" + mod + "&pin-value=1",
		"pkcs11:token=thiqa?pin-value=1",
		"pkcs11:token=thiqa?module-path=libsofthsm2.so&pin-value=1",
		"pkcs11:token=thiqa?" + mod,
		"pkcs11:token=thiqa?" + mod + "&pin-value=",
		"pkcs11:token=thiqa?" + mod + "&pin-value=1&pin-source=" + pinFile,
		"pkcs11:token=thiqa;token=other?" + mod + "&pin-value=1",
		"pkcs11:token=thiqa;colour=red?" + mod + "&pin-value=1",
		"pkcs11:token=thiqa?" + mod + "&pin-value=1&verbose=1",
		"pkcs11:token=thiqa?" + mod + "&pin-value=1&max-sessions=0",
		"pkcs11:token=thiqa?" + mod + "&pin-value=1&max-sessions=many",
		"pkcs11:token=thi%zzqa?" + mod + "&pin-value=1",
		"pkcs11:token?" + mod + "&pin-value=1",
		"pkcs11:token=thiqa?" + mod + "&pin-source=https://example.com/pin",
		"pkcs11:token=thiqa?" + mod + "&pin-source=pin.txt",
		"pkcs11:token=thiqa?" + mod + "&pin-value=1&" + string(make([]byte, 5000)),
	}
	for _, uri := range bad {
		t.Run(uri, func(t *testing.T) {
			if _, err := pkcs11.ParseURI(uri); !errors.Is(err, pkcs11.ErrBadURI) {
				t.Fatalf("ParseURI = %v, want ErrBadURI", err)
			}
		})
	}
	t.Run("missing PIN file", func(t *testing.T) {
		_, err := pkcs11.ParseURI("pkcs11:token=thiqa?" + mod + "&pin-source=" + filepath.Join(dir, "none"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("ParseURI = %v, want ErrNotExist", err)
		}
	})
}

// FuzzParseURI: no panic, and what parses prints back to a URI that parses
// to the same token and module.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=thiqa?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234",
		"pkcs11:token=thiqa;object=kek;serial=42?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234&max-sessions=8",
		"pkcs11:token=a%20b?module-path=/x&pin-value=%41",
		"pkcs11:token=;?&",
		"pkcs11:token=a%26b%3Bc?module-path=/p%26q&pin-value=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		c, err := pkcs11.ParseURI(uri)
		if err != nil {
			return
		}
		again, err := pkcs11.ParseURI(c.String() + "&pin-value=x")
		if err != nil {
			t.Fatalf("%q -> %q: %v", uri, c.String(), err)
		}
		if again.Token != c.Token || again.ModulePath != c.ModulePath || again.Serial != c.Serial || again.KEKLabel != c.KEKLabel {
			t.Fatalf("round trip changed %+v to %+v", c, again)
		}
	})
}
