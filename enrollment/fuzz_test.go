package enrollment

import (
	"strings"
	"testing"
	"time"
)

// FuzzNormalizeCode: what a citizen types is either refused or mapped to
// a canonical code that maps to itself.
func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"7KQ2M-XH9TD", "7kq2m xh9td", "٧KQ٢M-XH٩TD", "OIL00-00000", "", "-----", strings.Repeat("A", 70), "ÄKQ2M-XH9TD"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := normalizeCode(s)
		if !ok {
			return
		}
		if len(c) != codeLen+1 || c[codeLen/2] != '-' {
			t.Fatalf("normalizeCode(%q) = %q", s, c)
		}
		if again, ok := normalizeCode(c); !ok || again != c {
			t.Fatalf("normalizeCode(%q) = %q, then %q, %v", s, c, again, ok)
		}
	})
}

// FuzzProofing: any proofing input is refused or normalised to fields that
// validate again unchanged.
func FuzzProofing(f *testing.F) {
	p := layla("٩٨٦١٢٣٤٥٦٧")
	f.Add(p.NationalID, p.GivenName, p.SurnameAr, p.DateOfBirth, p.DocNumber)
	f.Add("9861234567", "Anne-Marie", "عبد الله", "٢٠٠٠-٠١-٠١", "ab 12")
	now := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, nid, given, surAr, dob, doc string) {
		p := layla(nid)
		p.GivenName, p.SurnameAr, p.DateOfBirth, p.DocNumber = given, surAr, dob, doc
		if err := p.validate(now); err != nil {
			return
		}
		q := p
		if err := q.validate(now); err != nil || q != p {
			t.Fatalf("validated proofing %+v changes or fails on a second pass: %+v, %v", p, q, err)
		}
	})
}
