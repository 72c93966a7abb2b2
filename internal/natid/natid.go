// Package natid normalises and checks Jordanian national numbers: ten
// digits, entered with Western (0-9), Arabic-Indic (٠-٩) or Extended
// Arabic-Indic (۰-۹) digits. It reads nothing else into the number: no birth
// date, no sex. It imports no other Thiqa package.
package natid

import (
	"errors"
	"strings"
)

// ErrInvalid is returned for anything that is not ten digits.
var ErrInvalid = errors.New("national number must be exactly 10 digits")

// Normalize returns the national number in Western digits, after removing
// surrounding white space and mapping Arabic-Indic and Extended Arabic-Indic
// digits. Anything other than ten digits is ErrInvalid.
func Normalize(s string) (string, error) {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 10 {
			return "", ErrInvalid
		}
		d, ok := digit(r)
		if !ok {
			return "", ErrInvalid
		}
		b.WriteByte(byte('0' + d))
	}
	if b.Len() != 10 {
		return "", ErrInvalid
	}
	return b.String(), nil
}

// Digits maps every Arabic-Indic and Extended Arabic-Indic digit in s to its
// Western form and leaves every other rune alone. It is for form inputs
// (dates, codes) that accept either script.
func Digits(s string) string {
	return strings.Map(func(r rune) rune {
		if d, ok := digit(r); ok {
			return rune('0' + d)
		}
		return r
	}, s)
}

func digit(r rune) (int, bool) {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0'), true
	case r >= '\u0660' && r <= '\u0669':
		return int(r - '\u0660'), true
	case r >= '\u06F0' && r <= '\u06F9':
		return int(r - '\u06F0'), true
	}
	return 0, false
}
