package signer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/internal/testtool"
	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// damagedPDF writes a one-page PDF with an xref table, letting a test spoil
// one thing: an object's body, an xref offset (off), the trailer (extra
// keys) or the startxref value.
func damagedPDF(objs []string, off map[int]string, trailer, startxref string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	start := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for i, o := range offs {
		s := fmt.Sprintf("%010d", o)
		if v, ok := off[i+1]; ok {
			s = v
		}
		fmt.Fprintf(&b, "%s 00000 n \n", s)
	}
	if startxref == "" {
		startxref = fmt.Sprint(start)
	}
	if !strings.Contains(trailer, "/Size") {
		trailer = fmt.Sprintf(" /Size %d", len(objs)+1) + trailer
	}
	fmt.Fprintf(&b, "trailer\n<</Root 1 0 R%s>>\nstartxref\n%s\n%%%%EOF\n", trailer, startxref)
	return b.Bytes()
}

// TestDamagedInputs signs PDFs whose object graph or cross-reference data
// is hostile or broken (issue 4, "Bad input"): loops of references, a page
// tree that contains itself, xref entries, /Prev or startxref pointing
// outside the file, absurd /Size and /Count, a stream whose /Length refers
// to itself. Nothing panics or hangs. A file without a readable catalog is
// refused with an error saying why, and nothing is written; so is a file
// whose page tree cannot be read completely, even after rebuilding the
// xref (ErrDocument, see TestPageTreeRefused). Otherwise the reader
// recovers (a page tree node whose xref offset is wrong is found by
// scanning) and an invisible signature is made: pdfsig must find it valid
// over the whole file, and qpdf must report nothing about the output that
// it does not already report about the input.
func TestDamagedInputs(t *testing.T) {
	p := testpki.New(t, nil)
	catalog := "<</Type /Catalog /Pages 2 0 R>>"
	pages := "<</Type /Pages /Kids [3 0 R] /Count 1>>"
	page := "<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R>>"
	content := "<</Length 20>>\nstream\nBT /F1 12 Tf 72 ET\n\nendstream"
	good := []string{catalog, pages, page, content}
	with := func(i int, o string) []string {
		objs := append([]string(nil), good...)
		objs[i-1] = o
		return objs
	}
	loopTree := damagedPDF(with(2, "<</Type /Pages /Kids [2 0 R] /Count 1>>"), nil, "", "")
	tests := []struct {
		name    string
		in      []byte
		visible bool
		refused string // in the error; "" when the file must sign
	}{
		{"catalog refers to itself", damagedPDF(with(1, "1 0 R"), nil, "", ""), false, "reference chain longer than"},
		{"reference cycle", damagedPDF([]string{"2 0 R", "1 0 R", page, content}, nil, "", ""), false, "reference chain longer than"},
		{"catalog not a dictionary", damagedPDF(with(1, "42"), nil, "", ""), false, "catalog 1 0 R is not a dictionary"},
		{"catalog outside the file", damagedPDF(good, map[int]string{1: "0099999999"}, "", ""), false, "catalog 1 0 R is not a dictionary"},
		{"visible on a page tree that contains itself", loopTree, true, "page tree: read pages: pdf: malformed file: loop in the page tree"},
		{"page tree contains itself", loopTree, false, "page tree: read pages: pdf: malformed file: loop in the page tree"},
		{"page tree node outside the file", damagedPDF(good, map[int]string{2: "0099999999"}, "", ""), false, ""},
		{"page not a dictionary", damagedPDF(with(3, "[1 2 3]"), nil, "", ""), false, "page tree: read pages: pdf: malformed file: page tree node 3 0 R is not a dictionary"},
		{"startxref outside the file", damagedPDF(good, nil, "", "99999999"), false, ""},
		{"startxref negative", damagedPDF(good, nil, "", "-12"), false, ""},
		{"Prev outside the file", damagedPDF(good, nil, " /Prev 88888888", ""), false, ""},
		{"content stream outside the file", damagedPDF(good, map[int]string{4: "0099999999"}, "", ""), false, ""},
		{"Length refers to itself", damagedPDF(with(4, "<</Length 4 0 R>>\nstream\nBT ET\nendstream"), nil, "", ""), false, ""},
		{"absurd Size", damagedPDF(good, nil, " /Size 2147483647", ""), false, ""},
		{"absurd Count", damagedPDF(with(2, "<</Type /Pages /Kids [3 0 R] /Count 999999999999>>"), nil, "", ""), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			o := options(p, LevelBB)
			if tt.visible {
				o.Visible = &Visible{Page: 1, Rect: [4]float64{36, 36, 236, 96}}
			}
			var out bytes.Buffer
			err := Sign(ctx, bytes.NewReader(tt.in), int64(len(tt.in)), &out, p.SignerKey, o)
			if ctx.Err() != nil {
				t.Fatal("signing did not finish in 20 s")
			}
			if tt.refused != "" {
				if err == nil || !strings.Contains(err.Error(), tt.refused) {
					t.Fatalf("err = %v, want one saying %q", err, tt.refused)
				}
				if out.Len() != 0 {
					t.Fatal("output written on failure")
				}
				return
			}
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !bytes.HasPrefix(out.Bytes(), tt.in) {
				t.Fatal("the original bytes were not kept")
			}
			// The update's own xref is sound: the signed file opens
			// without scanning.
			rd, err := pdf.Open(bytes.NewReader(out.Bytes()), int64(out.Len()), &pdf.Options{NoRecover: true})
			if err != nil {
				t.Fatalf("signed file does not open without recovery: %v", err)
			}
			if _, err := rd.Catalog(); err != nil {
				t.Fatalf("signed file's catalog: %v", err)
			}
			pdfsig(t, writeTemp(t, out.Bytes()), 1, true)
			if extra := newQpdfWarnings(t, tt.in, out.Bytes()); len(extra) > 0 {
				t.Errorf("qpdf --check finds in the output what it does not find in the input:\n%s", strings.Join(extra, "\n"))
			}
		})
	}
}

// newQpdfWarnings runs qpdf --check on the input and on the signed output
// and returns what qpdf finds wrong in the output (warnings, errors, a
// worse exit status) that it does not find in the input.
func newQpdfWarnings(t *testing.T, in, out []byte) []string {
	t.Helper()
	qpdf := testtool.Require(t, "qpdf")
	check := func(b []byte) (int, map[string]bool) {
		dir := t.TempDir()
		path := filepath.Join(dir, "f.pdf")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		res, err := exec.Command(qpdf, "--check", path).CombinedOutput()
		code := 0
		if err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatal(err)
			}
			code = ee.ExitCode()
		}
		lines := map[string]bool{}
		for _, l := range strings.Split(strings.ReplaceAll(string(res), path, "FILE"), "\n") {
			if strings.Contains(l, "WARNING") || strings.Contains(l, "ERROR") {
				lines[l] = true
			}
		}
		return code, lines
	}
	inCode, before := check(in)
	outCode, after := check(out)
	var extra []string
	// qpdf exits 2 on errors, 3 on warnings only.
	if outCode == 2 && inCode != 2 || outCode == 3 && inCode == 0 {
		extra = append(extra, fmt.Sprintf("exit status %d, %d for the input", outCode, inCode))
	}
	for l := range after {
		if !before[l] {
			extra = append(extra, l)
		}
	}
	return extra
}

// TestEncryptedRefused signs every encrypted file of the corpus (RC4,
// AES-256, public-key security) through SignFile: each is refused with an
// error that says the file is encrypted, and no output file appears.
func TestEncryptedRefused(t *testing.T) {
	p := testpki.New(t, nil)
	files, err := filepath.Glob(filepath.Join(corpusDir(t), "inputs", "*", "*.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n := 0
	for _, f := range files {
		name := filepath.Base(f)
		if !strings.Contains(name, "aes256") && !strings.Contains(name, "rc4") && !strings.Contains(name, "pubkey") && !strings.Contains(name, "encrypt") {
			continue
		}
		n++
		out := filepath.Join(dir, name)
		err := SignFile(context.Background(), f, out, p.SignerKey, options(p, LevelBB))
		if err == nil || !strings.Contains(err.Error(), "encrypted") {
			t.Errorf("%s: err = %v, want one saying the file is encrypted", name, err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: output written for a refused file", name)
		}
	}
	if n < 10 {
		t.Fatalf("only %d encrypted corpus files found", n)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("%d files left in the output directory", len(ents))
	}
}

// TestRebuiltXrefKeepsVersion signs files whose xref had to be rebuilt:
// the update's complete xref section is a table when the document
// declares a version before PDF 1.5 (xref streams came with 1.5, and
// PDF/A-1 forbids them), a stream otherwise.
func TestRebuiltXrefKeepsVersion(t *testing.T) {
	p := testpki.New(t, nil)
	catalog := "<</Type /Catalog /Pages 2 0 R>>"
	pages := "<</Type /Pages /Kids [3 0 R] /Count 1>>"
	page := "<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]>>"
	for _, tt := range []struct {
		name    string
		header  string
		catalog string
		want    pdf.XrefKind
	}{
		{"PDF 1.3", "1.3", catalog, pdf.XrefTable},
		{"PDF 1.4", "1.4", catalog, pdf.XrefTable},
		{"PDF 1.4 with catalog Version 1.6", "1.4", "<</Type /Catalog /Pages 2 0 R /Version /1.6>>", pdf.XrefStream},
		{"PDF 1.7", "1.7", catalog, pdf.XrefStream},
		{"PDF 2.0", "2.0", catalog, pdf.XrefStream},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := damagedPDF([]string{tt.catalog, pages, page}, nil, "", "99999999")
			in = bytes.Replace(in, []byte("%PDF-1.7"), []byte("%PDF-"+tt.header), 1)
			if rd, err := pdf.Open(bytes.NewReader(in), int64(len(in)), nil); err != nil || !rd.Recovered() {
				t.Fatalf("input not read by recovery: %v", err)
			}
			out := signBytes(t, in, p.SignerKey, options(p, LevelBB))
			rd, err := pdf.Open(bytes.NewReader(out), int64(len(out)), &pdf.Options{NoRecover: true})
			if err != nil {
				t.Fatalf("signed file needs recovery: %v", err)
			}
			if rd.XrefKind() != tt.want {
				t.Errorf("update's xref of kind %d, want %d", rd.XrefKind(), tt.want)
			}
			if _, ok := rd.Trailer()["Prev"]; ok {
				t.Error("complete xref section has /Prev")
			}
			if pages, err := rd.Pages(); err != nil || len(pages) != 1 {
				t.Errorf("signed file's pages: %d, %v", len(pages), err)
			}
			pdfsig(t, writeTemp(t, out), 1, true)
			if extra := newQpdfWarnings(t, in, out); len(extra) > 0 {
				t.Errorf("qpdf --check finds in the output what it does not find in the input:\n%s", strings.Join(extra, "\n"))
			}
		})
	}
}
