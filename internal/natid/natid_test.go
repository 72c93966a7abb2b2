package natid

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"9861234567", "9861234567"},
		{" 9861234567\n", "9861234567"},
		{"٩٨٦١٢٣٤٥٦٧", "9861234567"},
		{"۹۸۶۱۲۳۴۵۶۷", "9861234567"},
		{"98٦١234567", "9861234567"},
	} {
		got, err := Normalize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "123456789", "12345678901", "98612345a7", "9861 234567", "９８６１２３４５６７", "-986123456"} {
		if got, err := Normalize(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrInvalid", bad, got, err)
		}
	}
}

func TestDigits(t *testing.T) {
	if got := Digits("٢٠٢٦-١١-٢٣ ab"); got != "2026-11-23 ab" {
		t.Errorf("Digits = %q", got)
	}
}

func FuzzNormalize(f *testing.F) {
	f.Add("٩٨٦١٢٣٤٥٦٧")
	f.Add("9861234567")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Normalize(s)
		if err != nil {
			return
		}
		if len(got) != 10 {
			t.Fatalf("Normalize(%q) = %q", s, got)
		}
		for _, c := range got {
			if c < '0' || c > '9' {
				t.Fatalf("Normalize(%q) = %q has a non-digit", s, got)
			}
		}
	})
}
