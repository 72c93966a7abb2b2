package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/internal/testtool"
)

// TestCheckpointSignatureOpenSSL checks a published checkpoint's signature
// with OpenSSL, following the C2SP signed-note layout by hand: the text up
// to the blank line is signed; the signature line is "— <name>
// base64(key ID || ECDSA signature)", the key ID being the first four bytes
// of the SHA-256 of the key's SubjectPublicKeyInfo.
func TestCheckpointSignatureOpenSSL(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	f := newFixture(t)
	f.fill(t, 3)
	c, err := f.log.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	text, sigs, ok := bytes.Cut(c.Note, []byte("\n\n"))
	if !ok {
		t.Fatalf("no blank line in %q", c.Note)
	}
	text = append(text, '\n')
	line, ok := strings.CutPrefix(strings.TrimSuffix(string(sigs), "\n"), "\u2014 "+audit.DefaultOrigin+" ")
	if !ok {
		t.Fatalf("signature line %q", sigs)
	}
	raw, err := base64.StdEncoding.DecodeString(line)
	if err != nil || len(raw) < 8 {
		t.Fatalf("signature %q: %v", line, err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	id := sha256.Sum256(spki)
	if binary.BigEndian.Uint32(raw[:4]) != binary.BigEndian.Uint32(id[:4]) {
		t.Fatalf("key ID %x, want %x", raw[:4], id[:4])
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pub := write("pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
	sig := write("sig.der", raw[4:])
	for _, tc := range []struct {
		name string
		text []byte
		ok   bool
	}{
		{"as signed", text, true},
		{"size changed", bytes.Replace(text, []byte("\n3\n"), []byte("\n4\n"), 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(openssl, "dgst", "-sha256", "-verify", pub, "-signature", sig, write("text", tc.text)).CombinedOutput()
			if (err == nil) != tc.ok || strings.Contains(string(out), "Verified OK") != tc.ok {
				t.Fatalf("openssl dgst -verify: %v\n%s", err, out)
			}
		})
	}
}
