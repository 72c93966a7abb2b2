package ui

import (
	"net/http"
	"time"
)

// Languages. Arabic is the default.
const (
	Arabic  = "ar"
	English = "en"
)

// LangCookie remembers the chosen language.
const LangCookie = "thiqa_lang"

// Lang returns the request's language: ?lang= when it names one (and then
// it is remembered in a cookie), else the cookie, else Arabic.
func Lang(w http.ResponseWriter, r *http.Request) string {
	if q := r.URL.Query().Get("lang"); q == Arabic || q == English {
		http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: q, Path: "/", MaxAge: int((365 * 24 * time.Hour).Seconds()),
			Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		return q
	}
	if c, err := r.Cookie(LangCookie); err == nil && (c.Value == Arabic || c.Value == English) {
		return c.Value
	}
	return Arabic
}

// Dir is the writing direction of lang: "rtl" for Arabic, "ltr" otherwise.
func Dir(lang string) string {
	if lang == Arabic {
		return "rtl"
	}
	return "ltr"
}

// Other is the language the switch link offers.
func Other(lang string) string {
	if lang == Arabic {
		return English
	}
	return Arabic
}

// T returns the message key in lang; a missing key is returned as is, so
// that it shows on the page and the catalogue test names it.
func T(lang, key string) string {
	m, ok := catalogue[key]
	if !ok {
		return key
	}
	if lang == English {
		return m[1]
	}
	return m[0]
}

// Has reports whether the catalogue holds key.
func Has(key string) bool { _, ok := catalogue[key]; return ok }
