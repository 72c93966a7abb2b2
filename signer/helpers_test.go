package signer

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/internal/testtool"
)

// corpusDir returns ../shared/corpus relative to the repository root.
func corpusDir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("corpus not found at %s: %v", dir, err)
	}
	return dir
}

// makePDF returns a one-page PDF with about size bytes of page content,
// with an xref table or an xref stream.
func makePDF(t testing.TB, size int, xrefStream bool) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	content := []byte("BT /F1 12 Tf 72 720 Td (Thiqa test document) Tj ET\n")
	for len(content) < size {
		content = append(content, "% filler filler filler filler filler filler filler filler filler\n"...)
	}
	objs := []string{
		"<</Type /Catalog /Pages 2 0 R>>",
		"<</Type /Pages /Kids [3 0 R] /Count 1>>",
		"<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources <</Font <</F1 5 0 R>>>>>>",
		fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(content), content),
		"<</Type /Font /Subtype /Type1 /BaseFont /Helvetica>>",
	}
	offs := make([]int, len(objs)+1)
	for i, o := range objs {
		offs[i+1] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	id := "<0123456789ABCDEF0123456789ABCDEF>"
	if !xrefStream {
		start := b.Len()
		fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
		for _, o := range offs[1:] {
			fmt.Fprintf(&b, "%010d 00000 n \n", o)
		}
		fmt.Fprintf(&b, "trailer\n<</Size %d /Root 1 0 R /ID [%s %s]>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, id, id, start)
		return b.Bytes()
	}
	start := b.Len()
	var data []byte
	data = append(data, 0, 0, 0, 0, 0xff, 0xff)
	for _, o := range append(offs[1:], start) {
		data = append(data, 1, byte(o>>24), byte(o>>16), byte(o>>8), byte(o), 0)
	}
	n := len(objs) + 1
	fmt.Fprintf(&b, "%d 0 obj\n<</Type /XRef /Size %d /W [1 4 1] /Root 1 0 R /ID [%s %s] /Length %d>>\nstream\n", n, n+1, id, id, len(data))
	b.Write(data)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", start)
	return b.Bytes()
}

// options returns signing options for a PKI at a level.
func options(p *testpki.PKI, level Level) *Options {
	return &Options{
		Certificate: p.Signer, Chain: p.Chain(), Level: level, Time: p.Now,
		Timestamper: TimestamperFunc(p.Authority.Token), Revocation: &HTTPRevocation{Clock: func() time.Time { return p.Now }},
		Reason: "Approval", Location: "Amman",
	}
}

func signBytes(t testing.TB, in []byte, key crypto.Signer, o *Options) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, key, o); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return out.Bytes()
}

func writeTemp(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "out.pdf")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// qpdfCheck runs qpdf --check.
func qpdfCheck(t testing.TB, path string) {
	t.Helper()
	out, err := exec.Command(testtool.Require(t, "qpdf"), "--check", path).CombinedOutput()
	if err != nil {
		t.Errorf("qpdf --check: %v\n%s", err, out)
	}
}

// pdfsig runs pdfsig -nocert (the chain is not in NSS's trust store) and
// returns its output. It checks that wantSigs CMS signatures are valid
// and that the last signature covers the total document when total is
// set. pdfsig cannot validate /ETSI.RFC3161 document time-stamps
// ("Unimplemented Feature"), and a B-LT signature is followed by the /DSS
// revision, so it does not cover the total document.
func pdfsig(t testing.TB, path string, wantSigs int, total bool) string {
	t.Helper()
	out, err := exec.Command(testtool.Require(t, "pdfsig"), "-nocert", path).CombinedOutput()
	s := string(out)
	if err != nil {
		t.Errorf("pdfsig: %v\n%s", err, s)
		return s
	}
	if n := strings.Count(s, "Signature is Valid"); n != wantSigs {
		t.Errorf("pdfsig: %d valid signatures, want %d\n%s", n, wantSigs, s)
	}
	last := strings.LastIndex(s, "Signature #")
	if total && (last < 0 || !strings.Contains(s[last:], "Total document signed")) {
		t.Errorf("pdfsig: last signature does not cover the total document\n%s", s)
	}
	return s
}

// pdfcpuNow is the clock of PKIs whose output pdfcpu checks: pdfcpu asks
// the OCSP responder live and checks the answer against the wall clock,
// so these PKIs are pinned to the start of the test instead of
// testpki.DefaultNow.
func pdfcpuNow() time.Time { return time.Now().UTC().Truncate(time.Second) }

// subsetInputs returns two generated PDFs (xref table and stream) and the
// corpus inputs named in higherLevels, by name.
func subsetInputs(t testing.TB) map[string][]byte {
	t.Helper()
	inputs := map[string][]byte{"generated-table": makePDF(t, 2000, false), "generated-stream": makePDF(t, 2000, true)}
	for name := range higherLevels {
		files, _ := filepath.Glob(filepath.Join(corpusDir(t), "inputs", "*", name))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			inputs[name] = b
		}
	}
	return inputs
}
