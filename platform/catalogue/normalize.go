package catalogue

import (
	"strings"
	"unicode"
)

// Normalize folds text for search: Latin letters to lower case; Arabic
// alef with hamza or madda (أ إ آ ٱ) to bare alef (ا), ta marbuta (ة) to ha
// (ه), alef maqsura (ى) to ya (ي), hamza on waw and ya (ؤ ئ) to the bare
// letters, Arabic-Indic digits (٠–٩, ۰–۹) to ASCII ones; diacritics
// (harakat, shadda, sukun, superscript alef) and tatweel (ـ) removed;
// punctuation to spaces, runs of spaces to one.
func Normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := true
	for _, r := range s {
		switch {
		case r >= 0x064B && r <= 0x065F, r == 0x0670, r == 0x0640: // harakat, superscript alef, tatweel
			continue
		case r == 'أ' || r == 'إ' || r == 'آ' || r == 'ٱ':
			r = 'ا'
		case r == 'ة':
			r = 'ه'
		case r == 'ى':
			r = 'ي'
		case r == 'ؤ':
			r = 'و'
		case r == 'ئ':
			r = 'ي'
		case r >= '٠' && r <= '٩': // Arabic-Indic digits
			r = '0' + (r - '٠')
		case r >= '۰' && r <= '۹': // Eastern Arabic-Indic digits
			r = '0' + (r - '۰')
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			r = unicode.ToLower(r)
		default:
			if !space {
				b.WriteByte(' ')
				space = true
			}
			continue
		}
		b.WriteRune(r)
		space = false
	}
	return strings.TrimRight(b.String(), " ")
}
