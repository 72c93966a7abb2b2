package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// clearKeys returns where b holds a private key in clear: a PEM private
// key block, or DER that parses as a SEC1, PKCS#8 or PKCS#1 private key.
func clearKeys(b []byte) []int {
	var at []int
	if i := bytes.Index(b, []byte("PRIVATE KEY-----")); i >= 0 {
		at = append(at, i)
	}
	// Every private key structure starts SEQUENCE { INTEGER version ...:
	// 02 01 01 (SEC1), 02 01 00 (PKCS#8, PKCS#1), 02 01 01 (PKCS#8 v2).
	for _, version := range [][]byte{{2, 1, 0}, {2, 1, 1}} {
		for i := 0; ; {
			j := bytes.Index(b[i:], version)
			if j < 0 {
				break
			}
			v := i + j
			for hdr := 2; hdr <= 5 && v-hdr >= 0; hdr++ {
				seq := derElement(b[v-hdr:])
				if seq == nil {
					continue
				}
				if _, err := x509.ParseECPrivateKey(seq); err == nil {
					at = append(at, v-hdr)
				} else if _, err := x509.ParsePKCS8PrivateKey(seq); err == nil {
					at = append(at, v-hdr)
				} else if _, err := x509.ParsePKCS1PrivateKey(seq); err == nil {
					at = append(at, v-hdr)
				}
			}
			i = v + 1
		}
	}
	return at
}

// derElement returns the DER SEQUENCE at the start of b, or nil.
func derElement(b []byte) []byte {
	if len(b) < 2 || b[0] != 0x30 {
		return nil
	}
	n, h := int(b[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 3 || len(b) < 2+k {
			return nil
		}
		n = 0
		for i := range k {
			n = n<<8 | int(b[2+i])
		}
		h += k
	}
	if h+n > len(b) {
		return nil
	}
	return b[:h+n]
}

// TestNoPrivateKeyInClear checks issue 3's "no private key is ever written
// in clear" over everything a node writes: after the key ceremony, a
// serve (which adds its own keys) and an issuance, no file in the data
// directory holds a private key that parses. The scanner itself is first
// shown to find keys of each kind buried in other bytes.
func TestNoPrivateKeyInClear(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	p8ec, _ := x509.MarshalPKCS8PrivateKey(ec)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p8ed, _ := x509.MarshalPKCS8PrivateKey(ed)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	junk := bytes.Repeat([]byte{0x30, 0x02, 0x01, 0x00, 0x17}, 50)
	for name, der := range map[string][]byte{"SEC1": sec1, "PKCS#8 EC": p8ec, "PKCS#8 Ed25519": p8ed, "PKCS#1": x509.MarshalPKCS1PrivateKey(rk)} {
		b := append(append(append([]byte(nil), junk...), der...), junk...)
		if len(clearKeys(b)) == 0 {
			t.Fatalf("the scanner misses a %s key", name)
		}
	}
	if len(clearKeys(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("x")}))) == 0 {
		t.Fatal("the scanner misses a PEM private key")
	}

	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	srv, _ := serve(t, data, addr)
	dir := t.TempDir()
	csrFile, subj := issueInputs(t, dir, esealSubject)
	if out, code := run(t, nil, "--data", data, "ca", "issue", "--profile", "eseal", "--csr", csrFile, "--subject-json", subj, "--out", filepath.Join(dir, "c.pem")); code != 0 {
		t.Fatalf("ca issue: exit %d\n%s", code, out)
	}
	srv.Process.Signal(os.Interrupt)
	srv.Wait()

	files := 0
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if at := clearKeys(b); len(at) > 0 {
			t.Errorf("%s holds a private key in clear at offsets %v", path, at)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("only %d files in the data directory", files)
	}
}
