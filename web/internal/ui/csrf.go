package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
)

// CSRF protection is double-submit: a random token in a SameSite=Strict,
// HttpOnly cookie and the same token in a hidden field of every form. A
// page of another site can neither read the cookie nor make the browser
// send it, so it cannot forge the field. Requests whose Origin or
// Sec-Fetch-Site says they come from another site are refused as well.
const (
	CSRFCookie = "thiqa_csrf"
	CSRFField  = "csrf"
)

// ErrCSRF: a form was posted without the page's CSRF token, or from
// another site.
var ErrCSRF = errors.New("form refused: missing or wrong CSRF token, or posted from another site")

// CSRFToken returns the request's CSRF token, setting the cookie when the
// request has none.
func CSRFToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(CSRFCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: tok, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	// Later calls in the same request see it.
	r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: tok})
	return tok
}

// CheckCSRF checks a posted form: the field must equal the cookie
// (compared in constant time) and the request must not come from another
// site. The form must have been parsed (r.ParseForm or
// r.ParseMultipartForm).
func CheckCSRF(r *http.Request) error {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return ErrCSRF
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return ErrCSRF
		}
	}
	c, err := r.Cookie(CSRFCookie)
	if err != nil || len(c.Value) != 43 {
		return ErrCSRF
	}
	f := r.PostFormValue(CSRFField)
	if subtle.ConstantTimeCompare([]byte(f), []byte(c.Value)) != 1 {
		return ErrCSRF
	}
	return nil
}
