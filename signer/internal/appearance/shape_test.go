package appearance

import (
	"slices"
	"strings"
	"testing"

	"github.com/go-text/typesetting/bidi"
)

// TestShapeMapsEveryCharacter checks the glyph-to-text mapping behind
// ToUnicode: read in reading order (right to left for Arabic), the texts of
// the glyphs give back the input, each character once and in order.
func TestShapeMapsEveryCharacter(t *testing.T) {
	fd, err := theFont()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, text string
		rtl        bool
	}{
		{"lam-alef", "سلامة", true},
		{"lam-alef variants", "لأ لإ لآ لا", true},
		{"allah", "عبد الله", true},
		{"harakat", "مُحَمَّد عَبْدُ الإِلَٰه", true},
		{"tanween", "رقمياً", true},
		{"latin", "Abdullah Salameh Al-Khalayleh", false},
		{"latin ligatures", "office affluent", false},
		{"combining acute", "Jose\u0301", false},
		{"missing glyphs", "王小明", false},
	}
	auto := []struct {
		text string
		rtl  bool
	}{
		{"2026 محمد", true},
		{"محمد 2026", true},
		{"2026 John محمد", false},
		{"2026", false},
	}
	for _, tc := range auto {
		t.Run("auto "+tc.text, func(t *testing.T) {
			sh := getShaper(fd)
			defer putShaper(sh)
			if l := sh.shape([]rune(tc.text), bidi.Neutral); l.rtl != tc.rtl {
				t.Errorf("paragraph rtl = %v, want %v", l.rtl, tc.rtl)
			}
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sh := getShaper(fd)
			defer putShaper(sh)
			dir := bidi.LeftToRight
			if tc.rtl {
				dir = bidi.RightToLeft
			}
			l := sh.shape([]rune(tc.text), dir)
			gs := slices.Clone(l.glyphs)
			if tc.rtl {
				slices.Reverse(gs)
			}
			var b strings.Builder
			for _, g := range gs {
				b.WriteString(g.text)
			}
			if b.String() != tc.text {
				t.Errorf("glyph texts give %q, want %q", b.String(), tc.text)
			}
			if l.rtl != tc.rtl {
				t.Errorf("paragraph rtl = %v", l.rtl)
			}
		})
	}
}

func TestReorderAppliesRuleL2(t *testing.T) {
	items := []item{{start: 0, level: 0}, {start: 1, level: 1}, {start: 2, level: 2}, {start: 3, level: 1}, {start: 4, level: 0}}
	reorder(items)
	var got []int
	for _, it := range items {
		got = append(got, it.start)
	}
	if want := []int{0, 3, 2, 1, 4}; !slices.Equal(got, want) {
		t.Errorf("visual order %v, want %v", got, want)
	}
}

// TestArabicIsJoined checks that Arabic letters take their contextual
// forms: in a word of joining letters no glyph is the isolated form that
// the cmap gives, and lam-alef becomes one ligature glyph.
func TestArabicIsJoined(t *testing.T) {
	fd, err := theFont()
	if err != nil {
		t.Fatal(err)
	}
	sh := getShaper(fd)
	defer putShaper(sh)
	for _, word := range []string{"محمد", "سلامة", "عبيد"} {
		t.Run(word, func(t *testing.T) {
			l := sh.shape([]rune(word), bidi.RightToLeft)
			for _, g := range l.glyphs {
				if g.gid == sh.blank {
					continue // second half of a split ligature
				}
				r := []rune(g.text)
				iso, ok := sh.face.NominalGlyph(r[0])
				if ok && int(iso) == g.gid {
					t.Errorf("%q drawn in its isolated form", g.text)
				}
			}
		})
	}
	l := sh.shape([]rune("سلام"), bidi.RightToLeft)
	lig := 0
	for _, g := range l.glyphs {
		if g.gid != sh.blank && g.text == "ا" {
			lig++
		}
	}
	if lig != 1 {
		t.Errorf("lam-alef: %d ligature glyphs, want 1", lig)
	}
}
