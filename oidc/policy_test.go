package oidc

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestPagesPolicy: the sign-in and consent pages forbid inline script and
// style, framing and other origins; the consent page's forms may only
// reach the provider and the agency's verified redirect URI; the sign-in
// page's script is a file of the issuer's origin.
func TestPagesPolicy(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice")
	r := e.party(t, c.ID, secret, "profile")
	b := browser(t)
	authURL := r.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	resp, err := b.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	login, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Path != "/oidc/login" {
		t.Fatalf("authorize: at %s", resp.Request.URL)
	}
	inline := regexp.MustCompile(`<script(\s[^>]*)?>[^<]|<script>|<style|\son[a-z]+=|style=`)
	check := func(t *testing.T, resp *http.Response, page []byte, formAction string) {
		t.Helper()
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "style-src 'self'",
			"base-uri 'none'", "frame-ancestors 'none'", "form-action " + formAction} {
			if !strings.Contains(csp, want) {
				t.Errorf("policy %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
			t.Errorf("policy %q is not strict", csp)
		}
		for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s: %q, want %q", h, got, want)
			}
		}
		if m := inline.Find(page); m != nil {
			t.Errorf("page has inline script or style: %q", m)
		}
	}
	t.Run("sign-in page", func(t *testing.T) {
		check(t, resp, login, "'self' http://127.0.0.1:9")
		if !strings.Contains(string(login), `<script src="login.js" defer></script>`) {
			t.Errorf("page does not load login.js:\n%s", login)
		}
		for _, f := range []struct{ path, typ, has string }{
			{"login.js", "text/javascript", "navigator.credentials.get"},
			{"pages.css", "text/css", "inline-size"},
		} {
			resp, err := b.Get(e.srv.URL + "/oidc/" + f.path)
			if err != nil {
				t.Fatal(err)
			}
			src, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), f.typ) ||
				resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(string(src), f.has) {
				t.Errorf("%s: %s %s", f.path, resp.Status, resp.Header.Get("Content-Type"))
			}
		}
	})
	t.Run("consent page", func(t *testing.T) {
		b := browser(t)
		id := e.authorizeUntilConsent(t, b, ph, authURL)
		resp, err := b.Get(e.srv.URL + "/oidc/consent?id=" + id)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		check(t, resp, page, "'self' http://127.0.0.1:9")
	})
}

// TestConsentCrossOrigin: a consent (or a sign-in) posted from another
// site, as a forged form would be, is refused with 403 and changes
// nothing: the same browser's own consent then still goes through once.
func TestConsentCrossOrigin(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice")
	r := e.party(t, c.ID, secret)
	b := browser(t)
	id := e.authorizeUntilConsent(t, b, ph, r.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	post := func(path, contentType, body string, h map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	form := url.Values{"id": {id}, "decision": {"allow"}}.Encode()
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "https://evil.example"},
	} {
		if resp := post("/oidc/consent", "application/x-www-form-urlencoded", form, h); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("consent with %v: %s, want 403", h, resp.Status)
		}
		if resp := post("/oidc/login/finish", "application/json", `{"id":"`+id+`"}`, h); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("login/finish with %v: %s, want 403", h, resp.Status)
		}
	}
	a, err := e.p.st.request(ctx, id)
	if err != nil || a.Consented {
		t.Fatalf("request after forged posts: consented %v, %v", a.Consented, err)
	}
	resp := post("/oidc/consent", "application/x-www-form-urlencoded", form, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": e.srv.URL})
	if loc, _ := resp.Location(); loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("the browser's own consent: %s to %v", resp.Status, loc)
	}
}
