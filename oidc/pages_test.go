package oidc

import (
	"io"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestPagesLanguages renders the sign-in and consent pages in Arabic (the
// default, right to left) and English, naming the agency and the claims,
// and offline access (refresh tokens) when asked for.
func TestPagesLanguages(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice", ScopeNationalID)
	r := e.party(t, c.ID, secret, "profile", ScopeNationalID, "offline_access")
	b := browser(t)
	id := e.authorizeUntilConsent(t, b, ph, r.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	for _, tt := range []struct {
		lang string
		want []string
	}{
		{"", []string{`dir="rtl"`, "وزارة Justice", "الرقم الوطني", "الاسم بالعربية واللاتينية", "البقاء متصلاً دون دخول جديد"}},
		{"en", []string{`dir="ltr"`, "Ministry of Justice", "your national number", "your name in Arabic and Latin", "staying signed in"}},
	} {
		t.Run("consent "+tt.lang, func(t *testing.T) {
			resp, err := b.Get(e.srv.URL + "/oidc/consent?id=" + id + "&lang=" + tt.lang)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, w := range tt.want {
				if !strings.Contains(string(page), w) {
					t.Errorf("page lacks %q:\n%s", w, page)
				}
			}
		})
	}
}
