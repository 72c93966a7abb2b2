package requests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testtool"
)

var formNow = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

func sampleForm() FormData {
	return FormData{RequestID: "Zm9ybS10ZXN0", ServiceCode: "MOI-PASSPORT", ServiceNameEn: "Passport renewal (ordinary)",
		ServiceNameAr: "تجديد جواز السفر", AgencyName: "MOI", GivenName: "Layla", Surname: "Haddad", GivenNameAr: "ليلى",
		SurnameAr: "حداد", NationalID: "9861234567", FeeFils: 20500, Created: formNow, RequiredDocuments: []string{"photo", "old passport"}}
}

// TestFormWithTools: qpdf finds the form well formed, pdftotext reads the
// applicant's details from it and pdfinfo the Arabic names.
func TestFormWithTools(t *testing.T) {
	qpdf := testtool.Require(t, "qpdf")
	pdftotext := testtool.Require(t, "pdftotext")
	pdfinfo := testtool.Require(t, "pdfinfo")
	dir := t.TempDir()
	for name, b := range map[string][]byte{"form": Form(sampleForm()), "decision": Decision(sampleForm(), "Collect it (Amman) \\ today", formNow)} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".pdf")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(qpdf, "--check", path).CombinedOutput(); err != nil || !strings.Contains(string(out), "No syntax or stream encoding errors") {
				t.Fatalf("qpdf --check: %v\n%s", err, out)
			}
			text, err := exec.Command(pdftotext, "-layout", path, "-").Output()
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"MOI-PASSPORT - Passport renewal (ordinary)", "9861234567", "2 November 2026, 09:30 UTC"}
			if name == "form" {
				want = append(want, "Layla Haddad", "20.500 JOD", "photo, old passport", "Applicant's signature")
			} else {
				want = append(want, "Accepted", `Collect it (Amman) \ today`)
			}
			for _, w := range want {
				if !strings.Contains(string(text), w) {
					t.Errorf("text lacks %q:\n%s", w, text)
				}
			}
			info, err := exec.Command(pdfinfo, path).Output()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(info), "تجديد جواز السفر - مقدم الطلب: ليلى حداد") {
				t.Errorf("pdfinfo lacks the Arabic names:\n%s", info)
			}
		})
	}
}

// TestFormDeterministic: the same data gives the same bytes, other data
// other bytes (the form's hash identifies it).
func TestFormDeterministic(t *testing.T) {
	a, b := Form(sampleForm()), Form(sampleForm())
	if !bytes.Equal(a, b) {
		t.Fatal("two forms of the same data differ")
	}
	d := sampleForm()
	d.NationalID = "9861234568"
	if bytes.Equal(a, Form(d)) {
		t.Fatal("forms of different applicants are equal")
	}
}

// checkStructure checks what a PDF reader relies on: every xref entry
// points at its object, startxref at the xref table.
func checkStructure(b []byte) error {
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(b)
	if m == nil {
		return fmt.Errorf("no startxref at the end")
	}
	xref, _ := strconv.Atoi(string(m[1]))
	if !bytes.HasPrefix(b[xref:], []byte("xref\n0 ")) {
		return fmt.Errorf("startxref %d does not point at the xref table", xref)
	}
	lines := strings.Split(string(b[xref:]), "\n")
	n, _ := strconv.Atoi(strings.Fields(lines[1])[1])
	for i := 1; i < n; i++ {
		entry := lines[2+i]
		if len(entry)+1 != 20 {
			return fmt.Errorf("xref entry %d is %d bytes", i, len(entry)+1)
		}
		off, _ := strconv.Atoi(entry[:10])
		if !bytes.HasPrefix(b[off:], fmt.Appendf(nil, "%d 0 obj\n", i)) {
			return fmt.Errorf("xref entry %d points at %q", i, b[off:min(off+10, len(b))])
		}
	}
	return nil
}

// FuzzForm: any names and texts (they come from enrolment and the
// catalogue) give a well-formed PDF whose text cannot break out of its
// strings.
func FuzzForm(f *testing.F) {
	d := sampleForm()
	f.Add(d.GivenName, d.Surname, d.GivenNameAr, d.ServiceNameEn, d.AgencyName, int64(20500))
	f.Add("Ab)Tj (evil", `\`, "ـً", "(((", ")", int64(-1))
	f.Add("Zoë", "Ça\x00", "\xff\xfe", "line\nbreak", "endstream endobj", int64(1<<62))
	f.Fuzz(func(t *testing.T, given, surname, givenAr, service, agency string, fee int64) {
		d := sampleForm()
		d.GivenName, d.Surname, d.GivenNameAr, d.ServiceNameEn, d.AgencyName, d.FeeFils = given, surname, givenAr, service, agency, fee
		for _, b := range [][]byte{Form(d), Decision(d, service+given, formNow)} {
			if err := checkStructure(b); err != nil {
				t.Fatal(err)
			}
			// One content stream: text cannot end it early.
			if bytes.Count(b, []byte("endstream")) != 1 {
				t.Fatal("the text ended the content stream")
			}
		}
	})
}
