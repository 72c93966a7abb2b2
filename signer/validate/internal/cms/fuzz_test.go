package cms

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
)

var contentsRE = regexp.MustCompile(`/Contents\s*<([0-9A-Fa-f]{200,})>`)

// FuzzParse parses arbitrary bytes as CMS (seeded with the /Contents of
// the signed corpus) and, when it parses, exercises the accessors.
func FuzzParse(f *testing.F) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "..", "shared", "corpus", "signed")
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "*.pdf"))
	if len(paths) == 0 {
		f.Fatalf("no corpus under %s", dir)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, m := range contentsRE.FindAllSubmatch(b, 4) {
			if der, err := hex.DecodeString(string(m[1])); err == nil {
				f.Add(bytes.TrimRight(der, "\x00"))
			}
		}
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		sd, err := Parse(der)
		if err != nil {
			return
		}
		for i := range sd.Signers {
			si := &sd.Signers[i]
			si.MessageDigest()
			si.SigningTime()
			si.Algorithm()
			if c := si.FindCertificate(sd.Certificates); c != nil {
				si.VerifySignature(c.PublicKey, si.SignedBytes(sd.Content))
			}
		}
		if sd.Content != nil {
			ParseTSTInfo(sd.Content)
		}
	})
}
