package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/store"
	"github.com/thiqa/thiqa/web/internal/ui"
)

// TestCSRF posts the enrolment form without the token, with a wrong one
// and from another site: each is refused with 403 and nothing is stored.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	e.officer(t, "layla", store.RoleOfficer, "AMM-01")
	b := e.signedIn(t, "layla")
	good := b.csrf(t)
	for _, tc := range []struct {
		name   string
		token  string
		header map[string]string
		cookie bool
	}{
		{"no token", "", nil, true},
		{"wrong token", strings.Repeat("A", 43), nil, true},
		{"token without cookie", good, nil, false},
		{"other origin", good, map[string]string{"Origin": "https://evil.example"}, true},
		{"cross-site fetch", good, map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := proofing("5678901234")
			f.Set(ui.CSRFField, tc.token)
			req := httptest.NewRequest(http.MethodPost, "/centre/enrol", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			saved := b.cookies[ui.CSRFCookie]
			if !tc.cookie {
				delete(b.cookies, ui.CSRFCookie)
			}
			rec := b.do(t, req)
			b.cookies[ui.CSRFCookie] = saved
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), ui.T(ui.Arabic, "err.csrf")) {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if _, err := e.svc.Identity(context.Background(), enrollment.Operator("test"), "5678901234"); !errors.Is(err, enrollment.ErrNotFound) {
				t.Fatalf("stored after a refused form: %v", err)
			}
		})
	}
	// The same form with the page's token and this site's origin passes.
	f := proofing("5678901234")
	f.Set(ui.CSRFField, good)
	req := httptest.NewRequest(http.MethodPost, "/centre/enrol", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://example.test")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if rec := b.do(t, req); rec.Code != 200 {
		t.Fatalf("good form: %d %s", rec.Code, rec.Body)
	}
}

// TestHeadersAndCookies checks the security headers on pages, errors and
// assets, and the cookies' flags.
func TestHeadersAndCookies(t *testing.T) {
	e := newEnv(t)
	e.officer(t, "layla", store.RoleOfficer, "AMM-01")
	b := e.browser()
	for _, path := range []string{"/centre/", "/verify/", "/admin/", "/centre/nothing", "/assets/thiqa.css", "/assets/verify.js"} {
		rec := b.get(t, path)
		h := rec.Header()
		if h.Get("Content-Security-Policy") != ui.CSP || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, h)
		}
		if strings.HasPrefix(path, "/assets/") && (rec.Code != 200 || rec.Body.Len() == 0) {
			t.Errorf("%s: %d", path, rec.Code)
		}
	}
	if !strings.Contains(ui.CSP, "script-src 'self'") || strings.Contains(ui.CSP, "unsafe-inline") {
		t.Errorf("CSP allows inline script: %s", ui.CSP)
	}
	if rec := b.get(t, "/centre/nothing"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown page: %d", rec.Code)
	}
	rec := b.signIn(t, "centre", "layla")
	for _, c := range rec.Result().Cookies() {
		if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode && c.Name != ui.LangCookie {
			t.Errorf("cookie %s: secure %v httponly %v samesite %v", c.Name, c.Secure, c.HttpOnly, c.SameSite)
		}
	}
	if rec := b.get(t, "/centre/"); rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("page cache: %q", rec.Header().Get("Cache-Control"))
	}
}

func TestLanguage(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	rec := b.get(t, "/verify/")
	if !strings.Contains(rec.Body.String(), `<html lang="ar" dir="rtl">`) || !strings.Contains(rec.Body.String(), `href="/verify/?lang=en"`) {
		t.Fatalf("default: %s", rec.Body)
	}
	rec = b.get(t, "/verify/?lang=en")
	if !strings.Contains(rec.Body.String(), `<html lang="en" dir="ltr">`) || b.cookies[ui.LangCookie] != "en" {
		t.Fatalf("?lang=en: %s", rec.Body)
	}
	// Remembered by the cookie.
	if rec = b.get(t, "/centre/"); !strings.Contains(rec.Body.String(), "Officer sign-in") {
		t.Fatalf("cookie not used: %s", rec.Body)
	}
	// An unknown language changes nothing.
	if rec = b.get(t, "/centre/?lang=xx"); !strings.Contains(rec.Body.String(), `lang="en"`) {
		t.Fatalf("?lang=xx: %s", rec.Body)
	}
}
