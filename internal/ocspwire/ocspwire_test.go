package ocspwire

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

var testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readPEMCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(readTestdata(t, name))
	if block == nil {
		t.Fatalf("%s: no PEM block", name)
		return nil
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// issuerHashes returns the CertID hashes of issuer with h.
func issuerHashes(t testing.TB, issuer *x509.Certificate, h crypto.Hash) (name, key []byte) {
	t.Helper()
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		t.Fatal(err)
	}
	hn, hk := h.New(), h.New()
	hn.Write(issuer.RawSubject)
	hk.Write(spki.PublicKey.RightAlign())
	return hn.Sum(nil), hk.Sum(nil)
}

type testCA struct {
	ca, leaf *x509.Certificate
}

func newCA(t testing.TB) testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Thiqa Test CA", Country: []string{"JO"}},
		NotBefore:             testNow.AddDate(-1, 0, 0),
		NotAfter:              testNow.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := new(big.Int).SetString("7f0102030405060708090a0b0c0d0e0f10111213", 16)
	leafTmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "citizen"},
		NotBefore:    testNow.AddDate(-1, 0, 0),
		NotAfter:     testNow.AddDate(1, 0, 0),
	}
	der, err = x509.CreateCertificate(rand.Reader, leafTmpl, ca, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{ca: ca, leaf: leaf}
}

func TestParseRequestOpenSSLFiles(t *testing.T) {
	ca := readPEMCert(t, "ca.pem")
	tests := []struct {
		file      string
		hash      crypto.Hash
		serial    string
		nonceLen  int
		wantError error
	}{
		{file: "sha1-nonce.der", hash: crypto.SHA1, serial: "4660", nonceLen: 16},
		{file: "sha1-nononce.der", hash: crypto.SHA1, serial: "4660"},
		{file: "sha256-nonce.der", hash: crypto.SHA256, serial: "0x0123456789abcdef0123456789abcdef", nonceLen: 16},
		{file: "signed.der", hash: crypto.SHA1, serial: "77", nonceLen: 16},
		{file: "two-requests.der", wantError: ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			req, err := ParseRequest(readTestdata(t, tc.file))
			if tc.wantError != nil {
				if !errors.Is(err, tc.wantError) {
					t.Fatalf("error = %v, want %v", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkRequest(t, req, ca, tc.hash, tc.serial, tc.nonceLen)
		})
	}
}

func checkRequest(t *testing.T, req *Request, issuer *x509.Certificate, h crypto.Hash, serial string, nonceLen int) {
	t.Helper()
	name, key := issuerHashes(t, issuer, h)
	want, ok := new(big.Int).SetString(serial, 0)
	if !ok {
		t.Fatalf("bad serial %q", serial)
	}
	if req.HashAlgorithm != h || !bytes.Equal(req.IssuerNameHash, name) || !bytes.Equal(req.IssuerKeyHash, key) {
		t.Errorf("certID = %v %x %x, want %v %x %x", req.HashAlgorithm, req.IssuerNameHash, req.IssuerKeyHash, h, name, key)
	}
	if req.SerialNumber.Cmp(want) != 0 {
		t.Errorf("serial = %v, want %v", req.SerialNumber, want)
	}
	if len(req.Nonce) != nonceLen || nonceLen == 0 && req.Nonce != nil {
		t.Errorf("nonce = %x, want %d bytes", req.Nonce, nonceLen)
	}
}

// TestParseRequestOpenSSL makes fresh requests with openssl ocsp against a
// CA generated now and parses them.
func TestParseRequestOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("openssl not found: %v", err)
		}
		t.Skipf("openssl not found (under CI=true this fails): %v", err)
	}
	ca := newCA(t)
	dir := t.TempDir()
	caPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.ca.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		hash     crypto.Hash
		serial   string
		nonceLen int
	}{
		{"sha1 nonce", []string{"-serial", "12345"}, crypto.SHA1, "12345", 16},
		{"sha1 no nonce", []string{"-serial", "12345", "-no_nonce"}, crypto.SHA1, "12345", 0},
		{"sha256 big serial", []string{"-sha256", "-serial", "0x7f0102030405060708090a0b0c0d0e0f10111213"}, crypto.SHA256, "0x7f0102030405060708090a0b0c0d0e0f10111213", 16},
		{"sha512 no nonce", []string{"-sha512", "-serial", "1", "-no_nonce"}, crypto.SHA512, "1", 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.Repeat("r", i+1)+".der")
			args := append([]string{"ocsp", "-issuer", caPEM}, tc.args...)
			args = append(args, "-reqout", out)
			if b, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %v: %v\n%s", args, err, b)
			}
			req, err := ParseRequest(readFile(t, out))
			if err != nil {
				t.Fatal(err)
			}
			checkRequest(t, req, ca.ca, tc.hash, tc.serial, tc.nonceLen)
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRequestXCrypto(t *testing.T) {
	ca := newCA(t)
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		t.Run(h.String(), func(t *testing.T) {
			der, err := ocsp.CreateRequest(ca.leaf, ca.ca, &ocsp.RequestOptions{Hash: h})
			if err != nil {
				t.Fatal(err)
			}
			req, err := ParseRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			checkRequest(t, req, ca.ca, h, "0x7f0102030405060708090a0b0c0d0e0f10111213", 0)
			theirs, err := ocsp.ParseRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			if theirs.HashAlgorithm != req.HashAlgorithm || theirs.SerialNumber.Cmp(req.SerialNumber) != 0 ||
				!bytes.Equal(theirs.IssuerKeyHash, req.IssuerKeyHash) || !bytes.Equal(theirs.IssuerNameHash, req.IssuerNameHash) {
				t.Errorf("x/crypto/ocsp parses %+v, we parse %+v", theirs, req)
			}
		})
	}
}

// tlv encodes a DER element with the given tag byte and contents.
func tlv(tag byte, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	out := []byte{tag}
	switch n := len(body); {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	return append(out, body...)
}

// build returns an OCSPRequest around the given single requests and
// request extensions (nil: none).
func build(singles [][]byte, exts []byte, tbsPrefix ...[]byte) []byte {
	tbs := append(bytes.Join(tbsPrefix, nil), tlv(0x30, singles...)...)
	if exts != nil {
		tbs = append(tbs, tlv(0xa2, tlv(0x30, exts))...)
	}
	return tlv(0x30, tlv(0x30, tbs))
}

func nonceExt(value []byte) []byte {
	return tlv(0x30, tlv(0x06, []byte{0x2b, 6, 1, 5, 5, 7, 48, 1, 2}), tlv(0x04, value))
}

func TestParseRequestMalformed(t *testing.T) {
	nameHash := sha1.Sum([]byte("name"))
	keyHash := sha1.Sum([]byte("key"))
	sha1Alg := tlv(0x30, tlv(0x06, []byte{0x2b, 0x0e, 3, 2, 0x1a}), []byte{5, 0})
	certID := func(alg, serial []byte) []byte {
		return tlv(0x30, alg, tlv(0x04, nameHash[:]), tlv(0x04, keyHash[:]), serial)
	}
	single := tlv(0x30, certID(sha1Alg, []byte{2, 1, 5}))
	sha256Name := sha256.Sum256([]byte("x"))
	tests := []struct {
		name      string
		der       []byte
		wantErr   error
		wantNonce []byte
	}{
		{name: "minimal", der: build([][]byte{single}, nil)},
		{name: "nonce", der: build([][]byte{single}, nonceExt(tlv(0x04, []byte{1, 2, 3}))), wantNonce: []byte{1, 2, 3}},
		{name: "nonce 32", der: build([][]byte{single}, nonceExt(tlv(0x04, bytes.Repeat([]byte{9}, 32)))), wantNonce: bytes.Repeat([]byte{9}, 32)},
		{name: "nonce 33", der: build([][]byte{single}, nonceExt(tlv(0x04, bytes.Repeat([]byte{9}, 33)))), wantErr: ErrMalformed},
		{name: "nonce empty", der: build([][]byte{single}, nonceExt(tlv(0x04))), wantErr: ErrMalformed},
		{name: "nonce not wrapped", der: build([][]byte{single}, nonceExt([]byte{1, 2, 3, 4})), wantErr: ErrMalformed},
		{name: "duplicate nonce", der: build([][]byte{single}, append(nonceExt(tlv(0x04, []byte{1})), nonceExt(tlv(0x04, []byte{2}))...)), wantErr: ErrMalformed},
		{name: "unknown critical extension", der: build([][]byte{single}, tlv(0x30, tlv(0x06, []byte{0x2a, 3}), []byte{1, 1, 0xff}, tlv(0x04))), wantErr: ErrUnsupported},
		{name: "unknown extension", der: build([][]byte{single}, tlv(0x30, tlv(0x06, []byte{0x2a, 3}), tlv(0x04)))},
		{name: "explicit false critical", der: build([][]byte{single}, tlv(0x30, tlv(0x06, []byte{0x2a, 3}), []byte{1, 1, 0}, tlv(0x04))), wantErr: ErrMalformed},
		{name: "empty extensions", der: build([][]byte{single}, []byte{}), wantErr: ErrMalformed},
		{name: "version v1 explicit", der: build([][]byte{single}, nil, tlv(0xa0, []byte{2, 1, 0}))},
		{name: "version v2", der: build([][]byte{single}, nil, tlv(0xa0, []byte{2, 1, 1})), wantErr: ErrUnsupported},
		{name: "no requests", der: build(nil, nil), wantErr: ErrMalformed},
		{name: "two requests", der: build([][]byte{single, single}, nil), wantErr: ErrUnsupported},
		{name: "unknown hash", der: build([][]byte{tlv(0x30, certID(tlv(0x30, tlv(0x06, []byte{0x2a, 3})), []byte{2, 1, 5}))}, nil), wantErr: ErrUnsupported},
		{name: "md5", der: build([][]byte{tlv(0x30, certID(tlv(0x30, tlv(0x06, []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 2, 5})), []byte{2, 1, 5}))}, nil), wantErr: ErrUnsupported},
		{name: "sha256 with sha1-sized hashes", der: build([][]byte{tlv(0x30, certID(tlv(0x30, tlv(0x06, []byte{0x60, 0x86, 0x48, 1, 0x65, 3, 4, 2, 1})), []byte{2, 1, 5}))}, nil), wantErr: ErrMalformed},
		{name: "bad params", der: build([][]byte{tlv(0x30, certID(tlv(0x30, tlv(0x06, []byte{0x2b, 0x0e, 3, 2, 0x1a}), []byte{2, 1, 0}), []byte{2, 1, 5}))}, nil), wantErr: ErrMalformed},
		{name: "non-minimal serial", der: build([][]byte{tlv(0x30, certID(sha1Alg, []byte{2, 2, 0, 5}))}, nil), wantErr: ErrMalformed},
		{name: "huge serial", der: build([][]byte{tlv(0x30, certID(sha1Alg, tlv(0x02, bytes.Repeat([]byte{0x11}, 33))))}, nil), wantErr: ErrMalformed},
		{name: "negative serial", der: build([][]byte{tlv(0x30, certID(sha1Alg, []byte{2, 1, 0xfe}))}, nil)},
		{name: "trailing data", der: append(build([][]byte{single}, nil), 0), wantErr: ErrMalformed},
		{name: "empty", der: nil, wantErr: ErrMalformed},
		{name: "garbage", der: []byte("GET / HTTP/1.1"), wantErr: ErrMalformed},
		{name: "too large", der: make([]byte, MaxRequestSize+1), wantErr: ErrMalformed},
		{name: "single extensions ignored", der: build([][]byte{tlv(0x30, certID(sha1Alg, []byte{2, 1, 5}), tlv(0xa0, tlv(0x30, tlv(0x30, tlv(0x06, []byte{0x2a, 3}), tlv(0x04)))))}, nil)},
		{name: "nonce in single extensions ignored", der: build([][]byte{tlv(0x30, certID(sha1Alg, []byte{2, 1, 5}), tlv(0xa0, tlv(0x30, nonceExt(tlv(0x04, []byte{1})))))}, nil)},
		{name: "indefinite length", der: append(append([]byte{0x30, 0x80}, build([][]byte{single}, nil)[2:]...), 0, 0), wantErr: ErrMalformed},
		{name: "sha256 name hash in sha1 certID", der: build([][]byte{tlv(0x30, tlv(0x30, sha1Alg, tlv(0x04, sha256Name[:]), tlv(0x04, keyHash[:]), []byte{2, 1, 5}))}, nil), wantErr: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ParseRequest(tc.der)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(req.Nonce, tc.wantNonce) || (tc.wantNonce == nil) != (req.Nonce == nil) {
				t.Errorf("nonce = %x, want %x", req.Nonce, tc.wantNonce)
			}
		})
	}
}

func TestNonceExtension(t *testing.T) {
	ca := newCA(t)
	nonce := []byte{0xde, 0xad, 0xbe, 0xef}
	ext := NonceExtension(nonce)
	if !ext.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}) || ext.Critical {
		t.Fatalf("extension = %+v", ext)
	}
	var got []byte
	if rest, err := asn1.Unmarshal(ext.Value, &got); err != nil || len(rest) != 0 || !bytes.Equal(got, nonce) {
		t.Fatalf("value %x does not hold the nonce: %v", ext.Value, err)
	}
	// The extension goes through x/crypto/ocsp into a response.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ocsp.CreateResponse(ca.ca, ca.ca, ocsp.Response{
		Status: ocsp.Good, SerialNumber: ca.leaf.SerialNumber, ThisUpdate: testNow,
		ExtraExtensions: []pkix.Extension{ext},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ocsp.ParseResponse(resp, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range parsed.Extensions {
		found = found || e.Id.Equal(ext.Id) && bytes.Equal(e.Value, ext.Value)
	}
	if !found {
		t.Errorf("nonce extension missing from response: %+v", parsed.Extensions)
	}
}
