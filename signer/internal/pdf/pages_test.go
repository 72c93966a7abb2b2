package pdf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestPagesBrokenTrees checks what Pages makes of the corpus's page-tree
// oddities: loops and unreadable nodes are errors, a direct kid is read
// as viewers read it, and an xref entry pointing at the wrong object
// reads once Open rebuilds the xref.
func TestPagesBrokenTrees(t *testing.T) {
	for _, tc := range []struct {
		file    string
		rebuild bool
		pages   int   // when wantErr is nil
		wantErr error // from Pages
	}{
		{"circular-page-tree.pdf", false, 0, ErrMalformed},
		{"broken-objstream1.pdf", false, 0, ErrMalformed},
		{"broken-objstream6.pdf", false, 0, ErrMalformed},
		{"minimal-annotless.pdf", false, 0, ErrMalformed},
		{"minimal-annotless.pdf", true, 1, nil},
		{"page-tree-direct-kid.pdf", false, 2, nil},
		{"minimal-two-pages.pdf", false, 2, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(corpusDir(t), "inputs", "pyhanko", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			rd, err := Open(bytes.NewReader(b), int64(len(b)), &Options{Rebuild: tc.rebuild})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if tc.rebuild && !rd.Recovered() {
				t.Error("Rebuild: Recovered() = false")
			}
			pages, err := rd.Pages()
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Pages = %d pages, %v; want %v", len(pages), err, tc.wantErr)
				}
				return
			}
			if err != nil || len(pages) != tc.pages {
				t.Fatalf("Pages = %d pages, %v; want %d", len(pages), err, tc.pages)
			}
			for i, p := range pages {
				if p.Dict == nil || p.Dict["Type"] != Name("Page") {
					t.Errorf("page %d: %v is not a /Page dictionary", i+1, p.Dict)
				}
			}
		})
	}
}
