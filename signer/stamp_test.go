package signer

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/internal/testtool"
)

func TestVisibleStamp(t *testing.T) {
	p := testpki.New(t, nil)
	for _, xs := range []bool{false, true} {
		in := makePDF(t, 2000, xs)
		o := options(p, LevelBT)
		o.Visible = &Visible{Page: 1, Rect: [4]float64{300, 50, 560, 150}}
		o.Appearance = BilingualStamp(StampOptions{
			NameArabic: "ليلى الأحمد", NameLatin: "Layla Al-Ahmad", Reason: "Approval",
			VerifyBaseURL: "https://verify.thiqa.example/s/",
		})
		path := writeTemp(t, signBytes(t, in, p.SignerKey, o))
		qpdfCheck(t, path)
		pdfsig(t, path, 1, true)
		out, err := exec.Command(testtool.Require(t, "pdftotext"), path, "-").CombinedOutput()
		if err != nil {
			t.Fatalf("pdftotext: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "Layla Al-Ahmad") {
			t.Errorf("stamp text not on the page:\n%s", out)
		}
	}
}
