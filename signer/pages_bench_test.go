package signer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// manyPagesPDF writes a PDF of n pages under a two-level page tree (100
// kids per node), all drawing one content stream.
func manyPagesPDF(n int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	var offs []int
	obj := func(s string) int {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), s)
		return len(offs)
	}
	obj("<</Type /Catalog /Pages 2 0 R>>")
	nodes := (n + 99) / 100
	kids := ""
	for i := range nodes {
		kids += fmt.Sprintf("%d 0 R ", 4+i)
	}
	obj(fmt.Sprintf("<</Type /Pages /Kids [%s] /Count %d>>", kids, n))
	content := "BT /F1 12 Tf 72 720 Td (Thiqa) Tj ET"
	obj(fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(content), content))
	first := 4 + nodes
	for i := range nodes {
		k, c := "", min(100, n-100*i)
		for j := range c {
			k += fmt.Sprintf("%d 0 R ", first+100*i+j)
		}
		obj(fmt.Sprintf("<</Type /Pages /Parent 2 0 R /Kids [%s] /Count %d>>", k, c))
	}
	for i := range n {
		obj(fmt.Sprintf("<</Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents 3 0 R>>", 4+i/100))
	}
	start := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d /Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, start)
	return b.Bytes()
}

// BenchmarkPageTree measures the page tree check that Prepare adds
// (issue 4), on a fresh reader, against signing the same document.
func BenchmarkPageTree(b *testing.B) {
	for _, n := range []int{1, 100, 2000} {
		in := manyPagesPDF(n)
		b.Run(fmt.Sprintf("check/%d-pages", n), func(b *testing.B) {
			for b.Loop() {
				rd, err := pdf.Open(bytes.NewReader(in), int64(len(in)), nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := checkPages(rd); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("sign-BB/%d-pages", n), func(b *testing.B) {
			p := testpki.New(b, nil)
			o := options(p, LevelBB)
			for b.Loop() {
				if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), io.Discard, p.SignerKey, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestManyPagesSigns keeps the benchmark's document honest: every page is
// read, and it signs.
func TestManyPagesSigns(t *testing.T) {
	in := manyPagesPDF(250)
	rd, err := pdf.Open(bytes.NewReader(in), int64(len(in)), &pdf.Options{NoRecover: true})
	if err != nil {
		t.Fatal(err)
	}
	if pages, err := rd.Pages(); err != nil || len(pages) != 250 {
		t.Fatalf("Pages = %d, %v; want 250", len(pages), err)
	}
	p := testpki.New(t, nil)
	signBytes(t, in, p.SignerKey, options(p, LevelBB))
}
