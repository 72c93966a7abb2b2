package validate

import (
	"errors"
	"io"

	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// checkPageTrees adds a finding to every signature whose signed revision
// has a page tree that cannot be read completely (a loop, no /Pages, an
// unreadable node or page, no page): viewers may show that revision
// differently or not at all, so what the signer saw is uncertain. Thiqa's
// signer refuses such documents (signer.ErrDocument). As there, a page
// tree that reads once the xref is rebuilt by scanning, as viewers do, is
// not reported. Document time-stamps show nothing and are not checked.
func (d *doc) checkPageTrees() {
	done := map[int]string{}
	for _, s := range d.sigs {
		if s.rev < 0 || s.docTS {
			continue
		}
		problem, ok := done[s.rev]
		if !ok {
			problem = d.pageTreeProblem(s.rev)
			done[s.rev] = problem
		}
		if problem != "" {
			s.finding("the page tree of the signed revision cannot be read completely (" + problem + "): viewers may show the signed document differently or not at all")
		}
	}
}

// pageTreeProblem says why the page tree of revision i cannot be read
// completely, or returns "".
func (d *doc) pageTreeProblem(i int) string {
	err := pageTree(d.revs[i])
	if err == nil {
		return ""
	}
	if !d.revs[i].Recovered() && errors.Is(err, pdf.ErrMalformed) {
		end := d.revEnds[i]
		rb, rerr := pdf.Open(io.NewSectionReader(d.r, 0, end), end, &pdf.Options{Rebuild: true})
		if rerr == nil && pageTree(rb) == nil {
			return ""
		}
	}
	return err.Error()
}

func pageTree(rd *pdf.Reader) error {
	pages, err := rd.Pages()
	if err != nil {
		return err
	}
	if len(pages) == 0 {
		return errors.New("no page")
	}
	return nil
}
