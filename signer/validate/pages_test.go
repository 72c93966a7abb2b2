package validate

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dpdf "github.com/digitorus/pdf"
	psign "github.com/digitorus/pdfsign/sign"
	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// peerSign signs in with digitorus/pdfsign, which, unlike Thiqa's signer,
// signs documents whose page tree cannot be read.
func peerSign(t testing.TB, in []byte, p *testpki.PKI) (out []byte, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pdfsign panicked: %v", r)
		}
	}()
	rdr, err := dpdf.NewReader(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = psign.Sign(bytes.NewReader(in), &b, rdr, int64(len(in)), psign.SignData{
		Signature: psign.SignDataSignature{
			CertType: psign.ApprovalSignature,
			Info:     psign.SignDataSignatureInfo{Name: "Peer", Reason: "Approval", Date: p.Now},
		},
		Signer: p.SignerKey, DigestAlgorithm: crypto.SHA256, Certificate: p.Signer,
		CertificateChains: [][]*x509.Certificate{append([]*x509.Certificate{p.Signer}, p.Chain()...)},
	})
	return b.Bytes(), err
}

const pageTreeFinding = "the page tree of the signed revision cannot be read completely"

// TestPageTreeFinding checks that a signature over a document whose page
// tree cannot be read completely carries a finding saying so, and that
// one over a sound document does not.
func TestPageTreeFinding(t *testing.T) {
	p := testpki.New(t, nil)
	corpus := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(corpusDir(t), "inputs", "pyhanko", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name, in string
		want     string // in the finding; "" for none
	}{
		{"loop", "circular-page-tree.pdf", "loop in the page tree"},
		{"sound", "minimal.pdf", ""},
		{"direct kid, read as viewers read it", "page-tree-direct-kid.pdf", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := peerSign(t, corpus(tc.in), p)
			if err != nil {
				t.Fatalf("pdfsign: %v", err)
			}
			rep := validate(t, out, trusting(p))
			if len(rep.Signatures) != 1 {
				t.Fatalf("%d signatures, want 1: %s", len(rep.Signatures), rep.Problem)
			}
			var got string
			for _, f := range rep.Signatures[0].Findings {
				if strings.Contains(f, pageTreeFinding) {
					got = f
				}
			}
			if tc.want == "" && got != "" {
				t.Fatalf("unexpected finding %q", got)
			}
			t.Logf("finding: %q", got)
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("findings %q, want one saying %q: %q", rep.Signatures[0].Findings, pageTreeFinding, tc.want)
			}
		})
	}
	// Thiqa's signer refuses the same document.
	in := corpus("circular-page-tree.pdf")
	var b bytes.Buffer
	if err := signer.Sign(t.Context(), bytes.NewReader(in), int64(len(in)), &b, p.SignerKey, signOpts(p, signer.LevelBB)); !errors.Is(err, signer.ErrDocument) {
		t.Fatalf("signer.Sign of a looping page tree = %v, want ErrDocument", err)
	}
}

// TestPageTreeProblemRebuild checks the revision check on its own: a
// page tree that reads once the xref is rebuilt by scanning, as viewers
// rebuild it (minimal-annotless.pdf: an xref entry pointing at another
// object; pdfsign cannot sign it), is not reported; a loop is, rebuilt or
// not.
func TestPageTreeProblemRebuild(t *testing.T) {
	for _, tc := range []struct {
		file string
		want string
	}{
		{"minimal-annotless.pdf", ""},
		{"circular-page-tree.pdf", "loop in the page tree"},
		{"minimal.pdf", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(corpusDir(t), "inputs", "pyhanko", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			rd, err := pdf.Open(bytes.NewReader(in), int64(len(in)), &pdf.Options{NoRecover: true})
			if err != nil {
				t.Fatal(err)
			}
			if tc.file == "minimal-annotless.pdf" {
				if _, err := rd.Pages(); err == nil {
					t.Fatal("the page tree reads without rebuilding: the case tests nothing")
				}
			}
			d := &doc{r: bytes.NewReader(in), size: int64(len(in)), revs: []*pdf.Reader{rd}, revEnds: []int64{int64(len(in))}}
			got := d.pageTreeProblem(0)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("pageTreeProblem = %q, want %q", got, tc.want)
			}
		})
	}
}
