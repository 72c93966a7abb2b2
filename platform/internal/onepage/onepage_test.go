package onepage

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testtool"
)

func sample(author string) []byte {
	var p Page
	p.Text(true, 14, 50, 790, "Heading")
	p.Text(false, 10, 50, 770, `Brackets (open \ close) and café`)
	p.Text(false, 10, 50, 750, "Arabic ليلى is not in the font")
	p.Line(50, 742, 545, 742)
	p.Rect([4]float64{36, 36, 276, 126})
	return p.PDF(Info{Title: "Sample (1)", Subject: "طلب خدمة", Author: author, Created: time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)})
}

// TestPageWithTools: qpdf finds the file well formed, pdftotext reads the
// page text (characters the fonts lack as "?"), pdfinfo the information.
func TestPageWithTools(t *testing.T) {
	qpdf := testtool.Require(t, "qpdf")
	pdftotext := testtool.Require(t, "pdftotext")
	pdfinfo := testtool.Require(t, "pdfinfo")
	for _, author := range []string{"", "Layla Haddad"} {
		path := filepath.Join(t.TempDir(), "page.pdf")
		if err := os.WriteFile(path, sample(author), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(qpdf, "--check", path).CombinedOutput(); err != nil || !strings.Contains(string(out), "No syntax or stream encoding errors") {
			t.Fatalf("qpdf --check: %v\n%s", err, out)
		}
		text, err := exec.Command(pdftotext, "-layout", path, "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"Heading", `Brackets (open \ close) and café`, "Arabic ???? is not in the font"} {
			if !strings.Contains(string(text), w) {
				t.Errorf("text lacks %q:\n%s", w, text)
			}
		}
		info, err := exec.Command(pdfinfo, path).Output()
		if err != nil {
			t.Fatal(err)
		}
		fields := map[string]string{}
		for _, l := range strings.Split(string(info), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok {
				fields[k] = strings.TrimSpace(v)
			}
		}
		want := map[string]string{"Title": "Sample (1)", "Subject": "طلب خدمة", "Author": author, "Producer": "Thiqa", "Pages": "1", "Page size": "595 x 842 pts (A4)"}
		for k, v := range want {
			if fields[k] != v {
				t.Errorf("pdfinfo %s: %q, want %q", k, fields[k], v)
			}
		}
	}
}

// TestDeterministic: the same drawing gives the same bytes, another
// drawing other bytes and another /ID.
func TestDeterministic(t *testing.T) {
	a, b, c := sample(""), sample(""), sample("x")
	if !bytes.Equal(a, b) {
		t.Fatal("two writes of the same page differ")
	}
	id := func(p []byte) []byte { return p[bytes.Index(p, []byte("/ID")):] }
	if bytes.Equal(id(a), id(c)) {
		t.Fatal("different documents share an /ID")
	}
}
