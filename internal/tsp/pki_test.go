package tsp

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testNow is the pinned clock of the tests. Certificates are valid for ten
// years around it, so that OpenSSL, which checks them at the real time,
// accepts them too.
var testNow = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

var testPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 2, 1}

type testPKI struct {
	root, inter, tsu *x509.Certificate
	key              crypto.Signer
}

func newKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch kind {
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "rsa":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatalf("generate %s key: %v", kind, err)
	}
	return k
}

func issue(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("create certificate %s: %v", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	return c
}

func caTemplate(cn string, serial int64) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Thiqa Test"}, Country: []string{"JO"}},
		NotBefore:             testNow.AddDate(-1, 0, 0),
		NotAfter:              testNow.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func tsuTemplate(serial int64) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "Thiqa Test TSU", Organization: []string{"Thiqa Test"}, Country: []string{"JO"}},
		NotBefore:    testNow.AddDate(-1, 0, 0),
		NotAfter:     testNow.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{
			Id:       oidExtKeyUsage,
			Critical: true,
			Value:    mustMarshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}}),
		}},
	}
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	caOnce  sync.Once
	caRoot  *x509.Certificate
	caInter *x509.Certificate
	caKey   crypto.Signer
	pkiMu   sync.Mutex
	pkis    = map[string]*testPKI{}
)

// newPKI returns a root, an intermediate and a TSU certificate whose key is
// of the given kind; results are cached per kind.
func newPKI(t testing.TB, kind string) *testPKI {
	t.Helper()
	caOnce.Do(func() {
		rootKey := newKey(t, "p256")
		caRoot = issue(t, caTemplate("Thiqa Test Root", 1), nil, rootKey.Public(), rootKey)
		caKey = newKey(t, "p256")
		caInter = issue(t, caTemplate("Thiqa Test TSA CA", 2), caRoot, caKey.Public(), rootKey)
	})
	pkiMu.Lock()
	defer pkiMu.Unlock()
	if p := pkis[kind]; p != nil {
		return p
	}
	key := newKey(t, kind)
	tsu := issue(t, tsuTemplate(int64(100+len(pkis))), caInter, key.Public(), caKey)
	p := &testPKI{root: caRoot, inter: caInter, tsu: tsu, key: key}
	pkis[kind] = p
	return p
}

// fixedClock returns the pinned test clock.
func fixedClock() time.Time { return testNow }

func newAuthority(t testing.TB, p *testPKI, opts Options) *Authority {
	t.Helper()
	if opts.Policy == nil {
		opts.Policy = testPolicy
	}
	if opts.Clock == nil {
		opts.Clock = fixedClock
	}
	a, err := New(p.key, p.tsu, []*x509.Certificate{p.inter}, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func writePEM(t testing.TB, path string, certs ...*x509.Certificate) {
	t.Helper()
	var buf bytes.Buffer
	for _, c := range certs {
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// lookTool finds an external tool, failing under CI=true and skipping
// otherwise when it is missing.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: %v", name, err)
		}
		t.Skipf("%s not found (install it; under CI=true this fails): %v", name, err)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, out)
	}
	return string(out)
}
