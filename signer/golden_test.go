package signer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"testing/cryptotest"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

// TestGolden checks that a B-B signature is byte-identical for a fixed
// clock, key and randomness (crypto/rand is made deterministic by
// testing/cryptotest, which makes ECDSA deterministic too). Regenerate
// with go test ./signer -run TestGolden -update.
func TestGolden(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 20261123)
	now := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4242),
		Subject:      pkix.Name{CommonName: "Golden Signer", Country: []string{"JO"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	for _, xs := range []bool{false, true} {
		name := map[bool]string{false: "golden-bb-table.pdf", true: "golden-bb-stream.pdf"}[xs]
		t.Run(name, func(t *testing.T) {
			out := signBytes(t, makePDF(t, 1000, xs), key, &Options{
				Certificate: cert, Time: now, Reason: "Golden", Location: "Amman",
			})
			path := filepath.Join("testdata", name)
			if *updateGolden {
				if err := os.WriteFile(path, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(out, want) {
				t.Fatalf("output differs from %s (run with -update if the change is intended)", path)
			}
			pdfsig(t, path, 1, true)
		})
	}
}
