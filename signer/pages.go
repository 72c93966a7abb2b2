package signer

import (
	"errors"
	"fmt"
	"io"

	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// checkPages refuses, with ErrDocument, a document whose page tree cannot
// be read completely: what the citizen approves must be what every viewer
// shows.
func checkPages(rd *pdf.Reader) error {
	pages, err := rd.Pages()
	if err != nil {
		return fmt.Errorf("%w: page tree: %w", ErrDocument, err)
	}
	if len(pages) == 0 {
		return fmt.Errorf("%w: page tree: no pages", ErrDocument)
	}
	return nil
}

// openDocument opens the PDF to sign. A file whose xref had to be rebuilt
// must have every object readable (ErrDamaged). Unless pages is false (a
// document time-stamp, which shows nothing; its widget still needs page
// 1), its page tree must read completely; when it does not because the
// xref is wrong (for example an entry pointing at another object), the
// xref is rebuilt by scanning, as qpdf and poppler do, and the file is
// signed if the rebuilt one reads completely (the update then carries a
// complete xref).
func openDocument(r io.ReaderAt, size int64, pages bool) (*pdf.Reader, error) {
	rd, err := pdf.Open(r, size, nil)
	if err != nil {
		return nil, fmt.Errorf("read pdf: %w", err)
	}
	if rd.Recovered() {
		if err := checkObjects(rd); err != nil {
			return nil, err
		}
	}
	if !pages {
		return rd, nil
	}
	perr := checkPages(rd)
	if perr == nil || rd.Recovered() || !errors.Is(perr, pdf.ErrMalformed) {
		return rd, perr
	}
	rb, err := pdf.Open(r, size, &pdf.Options{Rebuild: true})
	if err != nil || checkObjects(rb) != nil || checkPages(rb) != nil {
		return nil, perr
	}
	return rb, nil
}
