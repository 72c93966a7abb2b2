// Package e2e_test runs Thiqa's trust services on a SoftHSM2 token: the key
// ceremony, citizen signing with wrapped keys, OCSP, time-stamps and
// e-seals. It is apart from package pkcs11's own tests because it depends
// on the signer and the CA.
package e2e_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/hsm/pkcs11"
	"github.com/thiqa/thiqa/hsm/pkcs11/softhsmtest"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/internal/testtool"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/store"
)

// ceremonyNow is the pinned clock of the ceremony test.
var ceremonyNow = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

func TestMain(m *testing.M) { os.Exit(softhsmtest.Main(m)) }

// open opens custody on tk with a key-encryption key, closed at the end.
func open(t testing.TB, tk softhsmtest.Token) *pkcs11.Custody {
	t.Helper()
	c, err := pkcs11.OpenURI(context.Background(), tk.URI(softhsmtest.PIN), &pkcs11.Options{CreateKEK: true})
	if err != nil {
		t.Fatalf("open %s: %v", tk.Label, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestCeremonyOnToken runs the key ceremony with every CA, TSA and OCSP key
// on the token, then the citizen flow: a wrapped key made at activation, a
// certificate issued for it, a PAdES B-LT signature of a real PDF through
// the two-step signer with the key unwrapped on the token, time-stamped and
// with OCSP responses signed by token keys; then an e-seal signed by a
// token-resident key, and the CA reopened from the token by key identifier.
func TestCeremonyOnToken(t *testing.T) {
	ctx := context.Background()
	pdfsig := testtool.Require(t, "pdfsig")
	tk := softhsmtest.New(t)
	c := open(t, tk)
	dir := t.TempDir()
	st, err := store.OpenBolt(filepath.Join(dir, "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	var handler atomic.Value
	handler.Store(http.NotFoundHandler())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	defer srv.Close()
	cfg := ca.DefaultConfig()
	cfg.PublicURL = srv.URL
	clock := func() time.Time { return ceremonyNow }
	svc, err := ca.Init(ctx, cfg, c, st, ca.Options{Clock: clock})
	if err != nil {
		t.Fatalf("ceremony on the token: %v", err)
	}
	handler.Store(svc.Handler())

	t.Run("keys on the token", func(t *testing.T) {
		ids, err := c.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		onToken := map[string]bool{}
		for _, id := range ids {
			k, err := c.Key(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			der, _ := x509.MarshalPKIXPublicKey(k.Public())
			onToken[string(der)] = true
		}
		for _, a := range svc.Authorities() {
			der, _ := x509.MarshalPKIXPublicKey(a.Certificate.PublicKey)
			if !onToken[string(der)] {
				t.Errorf("%s: its key is not on the token", a.Name)
			}
		}
		if len(ids) != len(svc.Authorities()) {
			t.Errorf("%d keys on the token for %d authorities", len(ids), len(svc.Authorities()))
		}
	})

	// Activation: the citizen's key is made and wrapped on the token; the
	// store would keep blob with the identity record.
	owner := "PNOJO-9861234567"
	blob, pub, err := c.NewWrappedKey(ctx, owner, hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := svc.Issue(ctx, ca.Request{Profile: ca.CitizenSigning, PublicKey: pub,
		Subject: ca.Subject{NationalID: "9861234567", GivenName: "Layla", Surname: "Haddad", GivenNameAr: "ليلى", SurnameAr: "حداد"}})
	if err != nil {
		t.Fatalf("issue citizen certificate: %v", err)
	}
	issuer, err := svc.AuthorityCertificate(ca.CitizenCA)
	if err != nil {
		t.Fatal(err)
	}
	upper, _ := svc.Chain(ca.CitizenCA)
	chain := append([]*x509.Certificate{issuer}, upper...)

	t.Run("citizen signs a PDF", func(t *testing.T) {
		in, err := os.ReadFile(testenv.CorpusPath(t, "inputs/pdfsign/testfile20.pdf"))
		if err != nil {
			t.Fatal(err)
		}
		opts := &signer.Options{Certificate: cert, Chain: chain, Level: signer.LevelBLT, Time: ceremonyNow,
			Timestamper: svc.TSA(), Revocation: &signer.HTTPRevocation{Clock: clock},
			ExtraCertificates: authorityCerts(svc), Reason: "Approval", Location: "Amman"}
		prep, digest, err := signer.Prepare(ctx, bytes.NewReader(in), int64(len(in)), opts)
		if err != nil {
			t.Fatal(err)
		}
		// The approved hashes: exactly this one digest.
		sigs, err := c.SignWithWrapped(ctx, owner, blob, [][]byte{digest}, prep.SignerOpts())
		if err != nil {
			t.Fatal(err)
		}
		if err := prep.Complete(ctx, sigs[0]); err != nil {
			t.Fatalf("complete the signature: %v", err)
		}
		checkPDF(t, pdfsig, prep)
	})

	t.Run("blob moved to another citizen", func(t *testing.T) {
		d := make([]byte, 32)
		if _, err := c.SignWithWrapped(ctx, "PNOJO-9860000000", blob, [][]byte{d}, crypto.SHA256); !errors.Is(err, hsm.ErrWrongOwner) {
			t.Fatalf("blob used for another citizen: err = %v, want ErrWrongOwner", err)
		}
	})

	t.Run("OCSP and revocation", func(t *testing.T) {
		status := func() int {
			req, err := ocsp.CreateRequest(cert, issuer, nil)
			if err != nil {
				t.Fatal(err)
			}
			der, err := svc.OCSP().Respond(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ocsp.ParseResponseForCert(der, cert, issuer)
			if err != nil {
				t.Fatalf("OCSP response signed on the token does not verify: %v", err)
			}
			return resp.Status
		}
		if s := status(); s != ocsp.Good {
			t.Fatalf("status %d, want good", s)
		}
		if _, err := svc.Revoke(ctx, cert.SerialNumber, ca.ReasonKeyCompromise); err != nil {
			t.Fatal(err)
		}
		if s := status(); s != ocsp.Revoked {
			t.Fatalf("status %d after revocation, want revoked", s)
		}
	})

	t.Run("e-seal with a token key", func(t *testing.T) {
		k, err := c.GenerateKey(ctx, "eseal-gov-100200300", hsm.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		sealCert, err := svc.Issue(ctx, ca.Request{Profile: ca.ESeal, PublicKey: k.Public(),
			Subject: ca.Subject{Organization: "Ministry of Digital Economy", OrgIdentifier: "GOVJO-100200300"}})
		if err != nil {
			t.Fatal(err)
		}
		orgCA, _ := svc.AuthorityCertificate(ca.OrgCA)
		upper, _ := svc.Chain(ca.OrgCA)
		in, err := os.ReadFile(testenv.CorpusPath(t, "inputs/pdfsign/testfile12.pdf"))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		opts := &signer.Options{Certificate: sealCert, Chain: append([]*x509.Certificate{orgCA}, upper...), Level: signer.LevelBT,
			Time: ceremonyNow, Timestamper: svc.TSA()}
		if err := signer.Sign(ctx, bytes.NewReader(in), int64(len(in)), &out, k, opts); err != nil {
			t.Fatalf("seal: %v", err)
		}
		checkPDFBytes(t, pdfsig, out.Bytes())
	})

	t.Run("reopen from the token", func(t *testing.T) {
		c2 := open(t, tk)
		svc2, err := ca.Open(ctx, c2, st, ca.Options{Clock: clock})
		if err != nil {
			t.Fatalf("open the CA on the token: %v", err)
		}
		blob2, pub2, err := c2.NewWrappedKey(ctx, "PNOJO-9867654321", hsm.ECDSAP384)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc2.Issue(ctx, ca.Request{Profile: ca.CitizenSigning, PublicKey: pub2,
			Subject: ca.Subject{NationalID: "9867654321", GivenName: "Omar", Surname: "Saleh", GivenNameAr: "عمر", SurnameAr: "صالح"}}); err != nil {
			t.Fatal(err)
		}
		if len(blob2) == 0 {
			t.Fatal("empty blob")
		}
	})
}

func authorityCerts(svc *ca.Service) []*x509.Certificate {
	var out []*x509.Certificate
	for _, a := range svc.Authorities() {
		out = append(out, a.Certificate)
	}
	return out
}

func checkPDF(t *testing.T, pdfsig string, prep *signer.Prepared) {
	t.Helper()
	var out bytes.Buffer
	if _, err := prep.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	checkPDFBytes(t, pdfsig, out.Bytes())
}

// checkPDFBytes has poppler's pdfsig check the signature value and digest
// (not the trust chain: the test root is not in its store).
func checkPDFBytes(t *testing.T, pdfsig string, pdf []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdfsig, "-nocert", p).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfsig: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Signature Validation: Signature is Valid.") {
		t.Fatalf("pdfsig does not find a valid signature:\n%s", out)
	}
}
