package ui

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Digits maps Arabic-Indic (٠-٩) and Extended Arabic-Indic (۰-۹) digits
// to ASCII and trims white space: every form input goes through it, so
// that people type numbers in the script of their keyboard.
func Digits(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		switch {
		case r >= '\u0660' && r <= '\u0669':
			return '0' + (r - '\u0660')
		case r >= '\u06F0' && r <= '\u06F9':
			return '0' + (r - '\u06F0')
		}
		return r
	}, s))
}

// ArabicDigits writes the ASCII digits of s as Arabic-Indic digits.
func ArabicDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '\u0660' + (r - '0')
		}
		return r
	}, s)
}

// monthsAr are the month names used in Jordan and the Levant.
var monthsAr = [12]string{"كانون الثاني", "شباط", "آذار", "نيسان", "أيار", "حزيران", "تموز", "آب", "أيلول", "تشرين الأول", "تشرين الثاني", "كانون الأول"}

// Amman is the time zone dates are shown in (Jordan, UTC+3 all year).
var Amman = time.FixedZone("Asia/Amman", 3*60*60)

// Date formats t for people reading lang, in Amman time: "2 Nov 2026,
// 12:30 Amman time" or "٢ تشرين الثاني ٢٠٢٦، ١٢:٣٠ بتوقيت عمّان". The zero time is "—".
func Date(lang string, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.In(Amman)
	if lang == English {
		return t.Format("2 Jan 2006, 15:04") + " Amman time"
	}
	s := fmt.Sprintf("%d %s %d، %02d:%02d", t.Day(), monthsAr[t.Month()-1], t.Year(), t.Hour(), t.Minute())
	return ArabicDigits(s) + " بتوقيت عمّان"
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
