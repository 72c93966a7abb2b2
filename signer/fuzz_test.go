package signer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// FuzzSign signs arbitrary bytes at B-B: never a panic; when signing
// succeeds, the output reopens with the original bytes untouched and one
// more revision.
func FuzzSign(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(corpusDir(f), "inputs", "*", "*.pdf"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 32<<10 {
			f.Add(b)
		}
	}
	f.Add(makePDF(f, 100, true))
	key, cert := selfSigned(f)
	o := &Options{Certificate: cert, Time: testpki.DefaultNow()}
	f.Fuzz(func(t *testing.T, in []byte) {
		ctx := context.Background()
		prep, digest, err := Prepare(ctx, bytes.NewReader(in), int64(len(in)), o)
		if err != nil {
			return
		}
		sig, err := key.Sign(rand.Reader, digest, prep.SignerOpts())
		if err != nil {
			t.Fatal(err)
		}
		if err := prep.Complete(ctx, sig); err != nil {
			t.Fatalf("Complete after a successful Prepare: %v", err)
		}
		var out bytes.Buffer
		if _, err := prep.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(out.Bytes(), in) {
			t.Fatal("original bytes changed")
		}
		rd, err := pdf.Open(bytes.NewReader(out.Bytes()), int64(out.Len()), &pdf.Options{NoRecover: true})
		if err != nil {
			t.Fatalf("signed output does not reopen: %v", err)
		}
		if rd.StartXref() < int64(len(in)) {
			t.Fatal("newest xref is not in the update")
		}
		// What you see is what you sign: whatever was signed has a
		// page tree that reads completely.
		if pages, err := rd.Pages(); err != nil || len(pages) == 0 {
			t.Fatalf("signed a document whose page tree does not read: %d pages, %v", len(pages), err)
		}
	})
}

// selfSigned returns a P-256 key and a self-signed certificate at the
// pinned clock (no servers: fuzz workers run the setup too).
func selfSigned(t testing.TB) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := testpki.DefaultNow()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Fuzz Signer"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}
