package signer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testpki"
)

// bulkyCerts returns n self-signed certificates of about size bytes each
// (padded with DNS names), standing in for a long chain of large
// certificates.
func bulkyCerts(t *testing.T, n, size int) []*x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for i := range n {
		var names []string
		for l := 0; l < size; l += 40 {
			names = append(names, fmt.Sprintf("host-%04d-padding-padding.ca%02d.example", l/40, i))
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(1000 + i)), Subject: pkix.Name{CommonName: fmt.Sprintf("Bulky CA %d", i)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: names,
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

var byteRangeRE = regexp.MustCompile(`/ByteRange \[0 (\d+) (\d+) (\d+)`)

// signatureContents returns the reserved /Contents space of the last
// signature of a signed file and the CMS in it, without its zero padding.
func signatureContents(t *testing.T, out []byte) (reserved int, cms []byte) {
	t.Helper()
	m := byteRangeRE.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		t.Fatal("no /ByteRange")
	}
	last := m[len(m)-1]
	a, _ := strconv.Atoi(string(last[1]))
	b, _ := strconv.Atoi(string(last[2]))
	if a <= 0 || b <= a+2 || b > len(out) || out[a] != '<' || out[b-1] != '>' {
		t.Fatalf("/ByteRange gap [%d, %d) is not a hex string", a, b)
	}
	raw, err := hex.DecodeString(string(out[a+1 : b-1]))
	if err != nil {
		t.Fatal(err)
	}
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(raw, &v)
	if err != nil {
		t.Fatalf("/Contents does not start with DER: %v", err)
	}
	for _, c := range rest {
		if c != 0 {
			t.Fatal("/Contents has non-zero bytes after the CMS")
		}
	}
	return len(raw), raw[:len(raw)-len(rest)]
}

// TestContentsSizedFromCMS checks that the /Contents placeholder is sized
// from the CMS actually produced (issue 4: not a fixed 8 KB guess that fails
// with long chains or LT data): a chain of about 40 KB signs at B-B and
// B-T, pdfsig accepts the result, and the space left unused is small.
func TestContentsSizedFromCMS(t *testing.T) {
	p := testpki.New(t, nil)
	chain := append(p.Chain(), bulkyCerts(t, 10, 4000)...)
	in := makePDF(t, 2000, false)
	for _, tt := range []struct {
		level Level
		slack int // at most this many bytes reserved but unused
	}{
		{LevelBB, 256},
		// The time-stamp token's size is estimated before it exists,
		// rounded up to 512 bytes with a margin.
		{LevelBT, 2048},
	} {
		t.Run(tt.level.String(), func(t *testing.T) {
			o := options(p, tt.level)
			o.Chain = chain
			out := signBytes(t, in, p.SignerKey, o)
			reserved, cms := signatureContents(t, out)
			t.Logf("CMS %d bytes in %d reserved", len(cms), reserved)
			if len(cms) < 40000 {
				t.Fatalf("CMS of %d bytes: the chain is not in it", len(cms))
			}
			if reserved-len(cms) > tt.slack {
				t.Errorf("/Contents reserves %d bytes for a CMS of %d: %d unused, want at most %d", reserved, len(cms), reserved-len(cms), tt.slack)
			}
			path := writeTemp(t, out)
			qpdfCheck(t, path)
			pdfsig(t, path, 1, true)
		})
	}
	// A short chain gets a small placeholder, not a fixed guess.
	out := signBytes(t, in, p.SignerKey, options(p, LevelBB))
	if reserved, cms := signatureContents(t, out); reserved > len(cms)+256 || reserved >= 8192 {
		t.Errorf("short chain: /Contents reserves %d bytes for a CMS of %d", reserved, len(cms))
	}
}
