package ocspwire

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseRequest checks that ParseRequest never panics, fails only with
// ErrMalformed or ErrUnsupported and returns well-formed fields.
func FuzzParseRequest(f *testing.F) {
	names, err := filepath.Glob(filepath.Join("testdata", "*.der"))
	if err != nil || len(names) == 0 {
		f.Fatalf("no seed requests in testdata: %v", err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		req, err := ParseRequest(der)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if req.SerialNumber == nil || len(req.IssuerNameHash) != req.HashAlgorithm.Size() || len(req.IssuerKeyHash) != req.HashAlgorithm.Size() {
			t.Fatalf("inconsistent request %+v", req)
		}
		if req.Nonce != nil && (len(req.Nonce) < MinNonceSize || len(req.Nonce) > MaxNonceSize) {
			t.Fatalf("nonce of %d bytes accepted", len(req.Nonce))
		}
	})
}

func BenchmarkParseRequest(b *testing.B) {
	for _, name := range []string{"sha1-nonce.der", "signed.der"} {
		b.Run(name, func(b *testing.B) {
			der := readTestdata(b, name)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseRequest(der); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
