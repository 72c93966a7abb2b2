package pdf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenCorpus(t *testing.T) {
	// Files that qpdf --check rejects or flags (exit 2 or 3) may fail to
	// open or to walk; the rest must read fully.
	mayFail := map[string]bool{
		"broken-objstream1.pdf": true, "broken-objstream2.pdf": true,
		"broken-objstream3.pdf": true, "broken-objstream6.pdf": true,
		"circular-page-tree.pdf": true, "minimal-annotless.pdf": true,
		"page-tree-direct-kid.pdf": true,
	}
	for _, f := range corpusFiles(t, "inputs/pyhanko", "inputs/pdfsign", "signed/dss", "signed/pdfcpu") {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			r, err := openFile(t, f)
			if strings.Contains(name, "aes256") || strings.Contains(name, "rc4") ||
				strings.Contains(name, "pubkey") || strings.Contains(name, "encrypt") {
				if !errors.Is(err, ErrEncrypted) {
					t.Fatalf("Open = %v, want ErrEncrypted", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			pages, err := r.Pages()
			if err != nil && !mayFail[name] {
				t.Fatalf("Pages: %v", err)
			}
			if err == nil && len(pages) == 0 {
				t.Fatal("no pages")
			}
			revs, err := r.Revisions()
			if err != nil || len(revs) == 0 {
				t.Fatalf("Revisions = %v, %v", revs, err)
			}
		})
	}
}

func TestOpenBad(t *testing.T) {
	minimal, err := os.ReadFile(filepath.Join(corpusDir(t), "inputs", "pyhanko", "minimal.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	loop := []byte("%PDF-1.7\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n2 0 obj\n<</Type/Pages/Kids[2 0 R]/Count 1>>\nendobj\n" +
		"xref\n0 3\n0000000000 65535 f \n0000000009 00000 n \n0000000054 00000 n \ntrailer\n<</Size 3/Root 1 0 R/Prev 100>>\nstartxref\n100\n%%EOF\n")
	deep := []byte("%PDF-1.7\n1 0 obj\n" + strings.Repeat("[", 10000) + "\nendobj\ntrailer<</Root 1 0 R>>\n%%EOF")
	huge := []byte("%PDF-1.7\nxref\n0 99999999999\ntrailer<</Root 1 0 R>>\nstartxref\n9\n%%EOF")
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrNotPDF},
		{"not a pdf", []byte("hello world"), ErrNotPDF},
		{"truncated", minimal[:len(minimal)/2], nil},
		{"header only", []byte("%PDF-1.4\n"), ErrMalformed},
		{"page tree loop", loop, ErrMalformed},
		{"deep nesting", deep, ErrLimit},
		{"enormous xref", huge, ErrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Open(bytes.NewReader(tt.in), int64(len(tt.in)), nil)
			if err == nil {
				_, err = r.Pages()
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	for _, p := range corpusFiles(f, "inputs/pyhanko", "inputs/pdfsign") {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := Limits{MaxObjects: 10000, MaxObjectSize: 1 << 20, MaxDecodedSize: 4 << 20, MaxIndexSize: 1 << 20}
		r, err := Open(bytes.NewReader(b), int64(len(b)), &Options{Limits: lim})
		if err != nil {
			return
		}
		r.Pages()
		r.AcroForm()
		r.Revisions()
		for _, n := range r.ObjectNumbers() {
			o, err := r.Get(Ref{Num: n})
			if err != nil {
				continue
			}
			if s, ok := o.(*Stream); ok {
				o = s.Dict
			}
			// Round trip: what we write parses back to the same syntax.
			w := AppendObject(nil, o)
			p := &parser{b: w, eof: true}
			o2, err := p.object(0)
			if err != nil {
				t.Fatalf("reparse %q: %v", w, err)
			}
			if w2 := AppendObject(nil, o2); !bytes.Equal(w, w2) {
				t.Fatalf("round trip: %q != %q", w, w2)
			}
		}
	})
}

func TestPageAt(t *testing.T) {
	for _, f := range corpusFiles(t, "inputs/pyhanko", "inputs/pdfsign") {
		r, err := openFile(t, f)
		if err != nil {
			continue
		}
		pages, err := r.Pages()
		if err != nil {
			continue
		}
		for i, want := range pages {
			got, err := r.PageAt(i)
			if err != nil || got.Ref != want.Ref {
				t.Errorf("%s: PageAt(%d) = %v, %v; want %v", filepath.Base(f), i, got.Ref, err, want.Ref)
			}
		}
		if _, err := r.PageAt(len(pages)); err == nil {
			t.Errorf("%s: PageAt past the end succeeded", filepath.Base(f))
		}
	}
}
