package signer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/internal/testpki"
)

// TestPageTreeRefused checks the "what you see is what you sign" rule: a
// document whose page tree cannot be read completely is refused with
// ErrDocument naming the cause after "page tree:", invisible or visible,
// and nothing is written.
func TestPageTreeRefused(t *testing.T) {
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
	corpus := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(corpusDir(t), "inputs", "pyhanko", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want string // after "page tree: "
	}{
		{"loop", damagedPDF(with(2, "<</Type /Pages /Kids [2 0 R] /Count 1>>"), nil, "", ""), "loop in the page tree at 2 0 R"},
		{"loop through a grandchild", damagedPDF(with(3, "<</Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1>>"), nil, "", ""), "loop in the page tree at 2 0 R"},
		{"no /Pages", damagedPDF(with(1, "<</Type /Catalog>>"), nil, "", ""), "catalog /Pages is not a reference"},
		{"/Pages missing", damagedPDF(with(1, "<</Type /Catalog /Pages 9 0 R>>"), nil, "", ""), "page tree node 9 0 R is not a dictionary"},
		{"kid missing", damagedPDF(with(2, "<</Type /Pages /Kids [3 0 R 9 0 R] /Count 2>>"), nil, "", ""), "page tree node 9 0 R is not a dictionary"},
		{"kid is a number", damagedPDF(with(2, "<</Type /Pages /Kids [3 0 R 7] /Count 2>>"), nil, "", ""), "page tree kid is neither a reference nor a dictionary"},
		{"page is an array", damagedPDF(with(3, "[1 2 3]"), nil, "", ""), "page tree node 3 0 R is not a dictionary"},
		{"no page", damagedPDF(with(2, "<</Type /Pages /Kids [] /Count 0>>"), nil, "", ""), "no pages"},
		{"corpus circular-page-tree.pdf", corpus("circular-page-tree.pdf"), "loop in the page tree at 6 0 R"},
		{"corpus broken-objstream1.pdf", corpus("broken-objstream1.pdf"), "page tree node 4 0 R is not a dictionary"},
	}
	for _, tt := range tests {
		for _, visible := range []bool{false, true} {
			name := tt.name + "/invisible"
			if visible {
				name = tt.name + "/visible"
			}
			t.Run(name, func(t *testing.T) {
				o := options(p, LevelBB)
				if visible {
					o.Visible = &Visible{Page: 1, Rect: [4]float64{36, 36, 236, 96}}
				}
				var out bytes.Buffer
				err := Sign(context.Background(), bytes.NewReader(tt.in), int64(len(tt.in)), &out, p.SignerKey, o)
				if !errors.Is(err, ErrDocument) || !strings.Contains(err.Error(), "page tree: ") || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Sign = %v, want ErrDocument saying page tree: … %s", err, tt.want)
				}
				if out.Len() != 0 {
					t.Fatal("output written on refusal")
				}
			})
		}
	}
}

// TestPageTreeOddities signs the corpus files whose page tree reads
// completely as viewers read it: a page written directly in /Kids
// (page-tree-direct-kid.pdf; qpdf and poppler show 2 pages) and an xref
// entry pointing at another object, which the signer reads by rebuilding
// the xref (minimal-annotless.pdf; qpdf and poppler rebuild it too). A
// visible signature cannot go on the direct page.
func TestPageTreeOddities(t *testing.T) {
	p := testpki.New(t, nil)
	for _, tc := range []struct {
		file    string
		visible int   // page of a visible signature, 0 for invisible
		want    error // nil when it must sign
	}{
		{"page-tree-direct-kid.pdf", 0, nil},
		{"page-tree-direct-kid.pdf", 1, nil},
		{"page-tree-direct-kid.pdf", 2, ErrOptions},
		{"minimal-annotless.pdf", 0, nil},
		{"minimal-annotless.pdf", 1, nil},
	} {
		t.Run(tc.file+"/"+string(rune('0'+tc.visible)), func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(corpusDir(t), "inputs", "pyhanko", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			o := options(p, LevelBB)
			if tc.visible > 0 {
				o.Visible = &Visible{Page: tc.visible, Rect: [4]float64{36, 36, 236, 96}}
			}
			var out bytes.Buffer
			err = Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, p.SignerKey, o)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Sign = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !bytes.HasPrefix(out.Bytes(), in) {
				t.Fatal("the original bytes were not kept")
			}
			pdfsig(t, writeTemp(t, out.Bytes()), 1, true)
		})
	}
}

// TestDirectFirstPage checks that an invisible signature on a document
// whose first page is written directly in /Kids goes on the first page
// that is an indirect object, and that a visible one on that direct page
// is refused with ErrOptions.
func TestDirectFirstPage(t *testing.T) {
	p := testpki.New(t, nil)
	in := damagedPDF([]string{
		"<</Type /Catalog /Pages 2 0 R>>",
		"<</Type /Pages /Kids [<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]>> 3 0 R] /Count 2>>",
		"<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]>>",
	}, nil, "", "")
	out := signBytes(t, in, p.SignerKey, options(p, LevelBB))
	if !bytes.Contains(out[len(in):], []byte("/P 3 0 R")) {
		t.Errorf("the widget is not on page 2 (3 0 R):\n%s", out[len(in):])
	}
	pdfsig(t, writeTemp(t, out), 1, true)
	o := options(p, LevelBB)
	o.Visible = &Visible{Page: 1, Rect: [4]float64{36, 36, 236, 96}}
	var b bytes.Buffer
	if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &b, p.SignerKey, o); !errors.Is(err, ErrOptions) {
		t.Fatalf("visible on a direct page: %v, want ErrOptions", err)
	}
}
