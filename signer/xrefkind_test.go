package signer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// TestXrefKindKept signs every corpus input the reader opens and checks
// the update's cross-reference section (issue 4: "an xref section of the
// same kind as the file uses (table or stream), with /Prev"): the signed
// file opens without recovery, its newest section is of the input's kind
// and its /Prev is the input's startxref. An input whose xref had to be
// rebuilt (by the reader, or by the signer to read the page tree) gets a
// complete section with no /Prev; when that is an xref
// stream, the document declares PDF 1.5 or later (header or catalog
// /Version), since xref streams are a PDF 1.5 feature.
func TestXrefKindKept(t *testing.T) {
	p := testpki.New(t, nil)
	files, err := filepath.Glob(filepath.Join(corpusDir(t), "inputs", "*", "*.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	signed := map[pdf.XrefKind]int{}
	recovered := 0
	for _, f := range files {
		name := filepath.Base(f)
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rin, err := pdf.Open(bytes.NewReader(in), int64(len(in)), nil)
		if err != nil {
			continue // unreadable or encrypted: refused, tested elsewhere
		}
		if _, err := rin.Pages(); err != nil && !rin.Recovered() {
			// The signer rebuilds the xref of a file whose page tree
			// reads only that way (see openDocument).
			if rb, err := pdf.Open(bytes.NewReader(in), int64(len(in)), &pdf.Options{Rebuild: true}); err == nil {
				rin = rb
			}
		}
		var out bytes.Buffer
		if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, p.SignerKey, options(p, LevelBB)); err != nil {
			continue // refused inputs are TestCorpus's business
		}
		rout, err := pdf.Open(bytes.NewReader(out.Bytes()), int64(out.Len()), &pdf.Options{NoRecover: true})
		if err != nil {
			t.Errorf("%s: signed file needs recovery: %v", name, err)
			continue
		}
		prev, hasPrev := rout.Trailer()["Prev"]
		if rin.Recovered() {
			recovered++
			if hasPrev {
				t.Errorf("%s: rebuilt xref, yet the update has /Prev %v", name, prev)
			}
			if rout.XrefKind() == pdf.XrefStream && !declares15(t, rout) {
				t.Errorf("%s: xref stream in a document that declares %s", name, rout.Header())
			}
			continue
		}
		signed[rin.XrefKind()]++
		if rout.XrefKind() != rin.XrefKind() {
			t.Errorf("%s: input's newest xref is of kind %d, the update's of kind %d", name, rin.XrefKind(), rout.XrefKind())
		}
		if n, ok := prev.(pdf.Int); !ok || int64(n) != rin.StartXref() {
			t.Errorf("%s: update's /Prev %v, want the input's startxref %d", name, prev, rin.StartXref())
		}
	}
	t.Logf("signed %d inputs with xref tables, %d with xref streams, %d with rebuilt xrefs", signed[pdf.XrefTable], signed[pdf.XrefStream], recovered)
	if signed[pdf.XrefTable] < 10 || signed[pdf.XrefStream] < 10 {
		t.Fatalf("too few inputs of each kind: %v", signed)
	}
}

// declares15 reports whether the document declares PDF 1.5 or later.
func declares15(t *testing.T, rd *pdf.Reader) bool {
	t.Helper()
	v := strings.TrimPrefix(rd.Header(), "%PDF-")
	if cat, err := rd.Catalog(); err == nil {
		if n, ok := cat["Version"].(pdf.Name); ok {
			v = string(n)
		}
	}
	return v >= "1.5"
}
