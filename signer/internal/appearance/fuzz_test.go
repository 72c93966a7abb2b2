package appearance

import (
	"errors"
	"strings"
	"testing"
)

// maxStampBytes bounds the output of Build for any accepted options.
const maxStampBytes = 1 << 20

// FuzzBuild feeds arbitrary text and sizes to Build: it must return a
// stamp or an error, never panic, and the stamp stays bounded and keeps
// the writer contract.
func FuzzBuild(f *testing.F) {
	seeds := []struct {
		ar, lat, reason, url string
		w, h                 float64
	}{
		{"عبد الله سلامة الخلايلة", "Abdullah Salameh Al-Khalayleh", "الموافقة على الطلب", "https://verify.thiqa.jo/s/7f3a9c2e41", 260, 90},
		{"محمد ٣ أحمد 2026", "Mohammad III Ahmad 2026", "Invoice 42 / فاتورة 42", "https://verify.thiqa.jo/s/42", 240, 80},
		{"", "Jane Q. Public", "I approve", "", 200, 60},
		{"ليلى", "Layla", "", "https://verify.thiqa.jo/s/2", 120, 200},
		{strings.Repeat("عبد الرحمن بن عبد العزيز ", 6), strings.Repeat("Abdulrahman bin Abdulaziz ", 6), "", "", 180, 70},
		{"\u202eabc\u202c (قوس] [x)", "a\xffb\x00c", "\u0651\u0651\u0651", "\x00", 36, 18},
		{"שלום עולם", "Ελληνικά Кириллица", "王小明 😀", "https://x", 300, 300},
	}
	for _, s := range seeds {
		f.Add(s.ar, s.lat, s.reason, s.url, s.w, s.h)
	}
	f.Fuzz(func(t *testing.T, ar, lat, reason, url string, w, h float64) {
		o := Options{Width: w, Height: h, NameArabic: ar, NameLatin: lat, Reason: reason,
			VerifyURL: url, SigningTime: pinnedTime}
		st, err := Build(o)
		if err != nil {
			if !errors.Is(err, ErrInvalidOptions) && !errors.Is(err, ErrQR) {
				t.Fatalf("Build: unexpected error %v", err)
			}
			return
		}
		if n := st.Size(); n > maxStampBytes {
			t.Fatalf("stamp of %d bytes", n)
		}
		if len(st.Objects) != 6 || len(st.Text()) > 5 {
			t.Fatalf("%d objects, %d lines", len(st.Objects), len(st.Text()))
		}
		for i, obj := range st.Objects {
			for _, m := range refRE.FindAllStringSubmatch(obj.Dict, -1) {
				if m[1] < "1" || m[1] > "5" || len(m[1]) != 1 {
					t.Fatalf("object %d: bad reference %s", i, m[0])
				}
			}
		}
	})
}

// FuzzSubset feeds damaged font files to the font parser and subsetter:
// they must fail with an error, never panic. Seeds are subsets that Build
// embeds.
func FuzzSubset(f *testing.F) {
	for _, o := range []Options{typicalOptions(), {Width: 200, Height: 60, NameArabic: "مُحَمَّد", SigningTime: pinnedTime}} {
		st, err := Build(o)
		if err != nil {
			f.Fatal(err)
		}
		file, err := inflate(st.Objects[5].Stream)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(file)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ttf, err := parseSFNT(data)
		if err != nil {
			return
		}
		var glyphs []subsetGlyph
		for g := 0; g < ttf.numGlyphs && g < 64; g++ {
			glyphs = append(glyphs, subsetGlyph{src: g, adv: ttf.advance(g), dy: int16(g % 3)})
		}
		out, _, err := ttf.subset(glyphs)
		if err != nil {
			return
		}
		if _, err := parseSFNT(out); err != nil {
			t.Fatalf("subset of a parsed font does not parse: %v", err)
		}
	})
}
