package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/signer/validate"
)

// signedCorpusInput signs a corpus input at B-LT with a test PKI and
// returns the PKI and the signed bytes.
func signedCorpusInput(t *testing.T) (*testpki.PKI, []byte) {
	t.Helper()
	in := testenv.CorpusPDF(t, "testfile20.pdf")
	p := testpki.New(t, nil)
	var out bytes.Buffer
	err := signer.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, p.SignerKey, &signer.Options{
		Certificate: p.Signer, Chain: p.Chain(), Level: signer.LevelBLT, Time: p.Now,
		Timestamper: signer.TimestamperFunc(p.Authority.Token),
		Revocation:  &signer.HTTPRevocation{Clock: func() time.Time { return p.Now }},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, out.Bytes()
}

func TestVerifyCommand(t *testing.T) {
	p, signed := signedCorpusInput(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pdf")
	bad := filepath.Join(dir, "bad.pdf")
	root := filepath.Join(dir, "root.pem")
	tampered := append([]byte(nil), signed...)
	tampered[100] ^= 0x20 // inside the signed range
	for path, b := range map[string][]byte{
		good: signed, bad: tampered,
		root: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Root.Raw}),
	} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	at := p.Now.Add(time.Hour).Format(time.RFC3339)
	common := []string{"verify", "--data", filepath.Join(dir, "no-data"), "--at", at}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"trusted", []string{"--trust", root, good}, 0, "TOTAL-PASSED"},
		{"untrusted", []string{good}, 2, "NO_CERTIFICATE_CHAIN_FOUND"},
		{"tampered", []string{"--trust", root, bad}, 1, "HASH_FAILURE"},
		{"one failed among several", []string{"--trust", root, good, bad}, 1, "TOTAL-FAILED"},
		{"xml", []string{"--trust", root, "--format", "xml", good}, 0, "urn:etsi:019102:mainindication:total-passed"},
		{"missing file", []string{"--trust", root, filepath.Join(dir, "none.pdf")}, 2, "no such file"},
		{"no files", nil, 3, "no files"},
		{"bad format", []string{"--format", "yaml", good}, 3, "--format"},
		{"bad time", []string{"--at", "yesterday", good}, 3, "--at"},
		{"bad trust file", []string{"--trust", good, good}, 3, "no PEM certificate"},
		{"unknown flag", []string{"--bogus", good}, 3, "unknown flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := run(t, nil, append(append([]string(nil), common...), tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want %d; output without %q:\n%s", code, tc.code, tc.want, out)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		out, code := run(t, nil, append(common, "--trust", root, "--format", "json", good, good)...)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		var reps []validate.Report
		if err := json.Unmarshal([]byte(out), &reps); err != nil || len(reps) != 2 {
			t.Fatalf("not an array of two reports (%v):\n%s", err, out)
		}
		if reps[0].Schema != validate.SchemaVersion || reps[0].Signatures[0].Level != "B-LT" {
			t.Errorf("report %+v", reps[0])
		}
	})
}

// TestVerifyTrustsDataDirectoryRoot signs with a certificate of the data
// directory's citizen CA: thiqa verify builds the chain to the data
// directory's root without --trust.
func TestVerifyTrustsDataDirectoryRoot(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, code := run(t, nil, "init", "--data", data); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	ctx := context.Background()
	n, _, err := node.Open(ctx, node.Options{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := n.CA.Issue(ctx, ca.Request{Profile: ca.CitizenSigning, PublicKey: key.Public(),
		Subject: ca.Subject{NationalID: "9861234567", GivenName: "Layla", Surname: "Haddad", GivenNameAr: "ليلى", SurnameAr: "حداد"}})
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := n.CA.AuthorityCertificate(ca.CitizenCA)
	if err != nil {
		t.Fatal(err)
	}
	parents, err := n.CA.Chain(ca.CitizenCA)
	n.Close()
	if err != nil {
		t.Fatal(err)
	}
	chain := append([]*x509.Certificate{issuer}, parents...)
	in := testenv.CorpusPDF(t, "testfile20.pdf")
	var out bytes.Buffer
	if err := signer.Sign(ctx, bytes.NewReader(in), int64(len(in)), &out, key, &signer.Options{Certificate: cert, Chain: chain}); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(dir, "signed.pdf")
	if err := os.WriteFile(doc, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		trusted bool
		sub     validate.SubIndication
	}{
		// No revocation data offline: the chain is trusted, the verdict TRY_LATER.
		{"default trust", nil, true, validate.TryLater},
		{"no default trust", []string{"--no-default-trust"}, false, validate.NoCertificateChain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"verify", "--data", data, "--format", "json"}, tc.args...)
			outs, code := run(t, nil, append(args, doc)...)
			var rep validate.Report
			if err := json.Unmarshal([]byte(outs[:strings.LastIndex(outs, "}")+1]), &rep); err != nil {
				t.Fatalf("exit %d, %v:\n%s", code, err, outs)
			}
			s := rep.Signatures[0]
			if code != 2 || s.Trusted != tc.trusted || s.SubIndication != tc.sub {
				t.Errorf("exit %d, trusted %v, %s; want 2, %v, %s\n%s", code, s.Trusted, s.SubIndication, tc.trusted, tc.sub, outs)
			}
		})
	}
}

// TestVerifyThiqaEndToEnd signs at B-LTA with a citizen certificate of a
// real ceremony, Thiqa's time-stamping unit and OCSP responder over HTTP,
// then verifies offline with the data directory's root: TOTAL-PASSED.
func TestVerifyThiqaEndToEnd(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addr := freeAddr(t)
	if out, code := run(t, nil, "init", "--data", data, "--public-url", "http://"+addr); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	ctx := context.Background()
	n, _, err := node.Open(ctx, node.Options{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := n.CA.Issue(ctx, ca.Request{Profile: ca.CitizenSigning, PublicKey: key.Public(),
		Subject: ca.Subject{NationalID: "9861234567", GivenName: "Layla", Surname: "Haddad", GivenNameAr: "ليلى", SurnameAr: "حداد"}})
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := n.CA.AuthorityCertificate(ca.CitizenCA)
	if err != nil {
		t.Fatal(err)
	}
	parents, err := n.CA.Chain(ca.CitizenCA)
	n.Close()
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := serve(t, data, addr)
	in := testenv.CorpusPDF(t, "testfile20.pdf")
	var out bytes.Buffer
	err = signer.Sign(ctx, bytes.NewReader(in), int64(len(in)), &out, key, &signer.Options{
		Certificate: cert, Chain: append([]*x509.Certificate{issuer}, parents...), Level: signer.LevelBLTA,
		Timestamper: &signer.HTTPTimestamper{URL: "http://" + addr + "/tsa"}, Revocation: &signer.HTTPRevocation{},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Process.Kill()
	srv.Wait()
	doc := filepath.Join(dir, "signed.pdf")
	if err := os.WriteFile(doc, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	outs, code := run(t, nil, "verify", "--data", data, "--format", "json", doc)
	var rep validate.Report
	if err := json.Unmarshal([]byte(outs[:strings.LastIndex(outs, "}")+1]), &rep); err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, outs)
	}
	if code != 0 || rep.Indication != validate.TotalPassed || rep.Signatures[0].Level != "B-LTA" {
		t.Errorf("exit %d, %s/%s, level %s\n%s", code, rep.Indication, rep.SubIndication, rep.Signatures[0].Level, outs)
	}
}
