package pdf

import (
	"fmt"
	"os"
	"testing"

	dpdf "github.com/digitorus/pdf"
)

// TestCompareReaders counts the corpus inputs that this reader and
// github.com/digitorus/pdf (pdfsign's reader) open and walk to the page
// tree. The numbers back the choice recorded in the package doc; the test
// fails if this reader ever reads fewer files than the other one.
func TestCompareReaders(t *testing.T) {
	files := corpusFiles(t, "inputs/pyhanko", "inputs/pdfsign", "signed/dss", "signed/pdfcpu")
	ours, theirs := 0, 0
	for _, f := range files {
		if r, err := openFile(t, f); err == nil {
			if _, err := r.Pages(); err == nil {
				ours++
			}
		}
		if digitorusReads(f) {
			theirs++
		}
	}
	t.Logf("of %d corpus files, this reader reads %d, digitorus/pdf reads %d", len(files), ours, theirs)
	if ours < theirs {
		t.Errorf("this reader reads %d files, digitorus/pdf %d", ours, theirs)
	}
}

func digitorusReads(path string) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	st, _ := f.Stat()
	r, err := dpdf.NewReader(f, st.Size())
	if err != nil {
		return false
	}
	if r.Trailer().Key("Encrypt").Kind() != dpdf.Null {
		return false
	}
	n := r.NumPage()
	_ = fmt.Sprint(n)
	return n > 0 && r.Page(1).V.Kind() == dpdf.Dict
}
