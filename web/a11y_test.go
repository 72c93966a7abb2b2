package web

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
	"github.com/thiqa/thiqa/web/internal/ui"
)

// TestPagesAccessible renders every page of /centre/, /admin/ and
// /verify/ in Arabic and English, each in the states people meet (signed
// out, signed in, a form with errors, a code shown, an identity with its
// lifecycle forms, a pending approval, a verification report), and checks
// the markup that assistive technology and a keyboard depend on: the
// page's language and direction; every form control labelled by text; every
// link and button with text; images with an alt text; a field marked
// invalid pointing at the message that says why; unique ids; and nothing
// loaded from another origin or run inline.
func TestPagesAccessible(t *testing.T) {
	e := newEnv(t)
	e.officer(t, "layla", store.RoleOfficer, "AMM-01")
	e.officer(t, "sami", store.RoleSupervisor, "AMM-01")
	e.officer(t, "root", store.RoleAdmin, "AMM-01")
	nid := activeIdentity(t, e)
	signed := signedPDF(t, e.pki)

	// An agency, and a request for its new key, fill the admin page.
	k, err := e.sign.AddAgency(context.Background(), signing.NewAgency{Name: "Land Department", Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sign.RequestAgencyKeyRotation(context.Background(), enrollment.Principal{Kind: enrollment.KindOfficer, Username: "sara", Role: store.RoleAdmin},
		k.Agency.ID, "leaked"); err != nil {
		t.Fatal(err)
	}
	// A revocation waiting for the supervisor fills the approvals page.
	off := e.signedIn(t, "layla")
	if rec := off.post(t, "/centre/identity/revoke", url.Values{"nid": {nid}, "reason": {"keyCompromise"}, "why": {"phone stolen"}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("revoke request: %d %s", rec.Code, rec.Body)
	}

	for i, lang := range []string{ui.Arabic, ui.English} {
		anon := e.browser()
		anon.lang = lang
		officer := e.signedIn(t, "layla")
		officer.lang = lang
		sup := e.signedIn(t, "sami")
		sup.lang = lang
		admin := e.browser()
		admin.lang = lang
		if rec := admin.signIn(t, "admin", "root"); rec.Code != http.StatusSeeOther {
			t.Fatalf("admin sign-in: %d %s", rec.Code, rec.Body)
		}
		bad := proofing(fmt.Sprintf("345678901%d", i))
		bad.Set("given_name_ar", "Omar")
		bad.Set("date_of_birth", "21/05/1990")
		bad.Del("doc_check")
		bad.Set("doc_type", "library-card")
		pages := []struct {
			name string
			id   string // an element the page must have
			rec  func() *http.Response
		}{
			{"verify", "upload", func() *http.Response { return anon.get(t, "/verify/").Result() }},
			{"verify report", "verdict", func() *http.Response { return anon.upload(t, "file", signed).Result() }},
			{"verify tampered", "changes", func() *http.Response { return anon.upload(t, "file", tamper(t, signed)).Result() }},
			{"verify unknown hash", "registry-none", func() *http.Response { return anon.get(t, "/verify/?sha256="+strings.Repeat("ab", 32)).Result() }},
			{"centre sign-in", "signin", func() *http.Response { return e.browserIn(lang).get(t, "/centre/").Result() }},
			{"centre wrong code", "error", func() *http.Response {
				return e.browserIn(lang).post(t, "/centre/signin", url.Values{"username": {"layla"}, "password": {testPassword}, "totp": {"000000"}}).Result()
			}},
			{"admin sign-in", "signin", func() *http.Response { return e.browserIn(lang).get(t, "/admin/").Result() }},
			{"centre home", "find", func() *http.Response { return officer.get(t, "/centre/").Result() }},
			{"enrol", "enrol", func() *http.Response { return officer.get(t, "/centre/enrol").Result() }},
			{"enrol with errors", "given_name_ar-err", func() *http.Response { return officer.post(t, "/centre/enrol", bad).Result() }},
			{"activation code", "code", func() *http.Response {
				return officer.post(t, "/centre/enrol", proofing(fmt.Sprintf("456789012%d", i))).Result()
			}},
			{"identity", "identity", func() *http.Response { return officer.get(t, "/centre/identity?nid="+nid).Result() }},
			{"approvals", "approvals", func() *http.Response { return sup.get(t, "/centre/approvals").Result() }},
			{"admin", "agency-requests", func() *http.Response { return admin.get(t, "/admin/").Result() }},
			{"no such page", "main", func() *http.Response { return anon.get(t, "/verify/nope").Result() }},
		}
		for _, p := range pages {
			t.Run(lang+" "+p.name, func(t *testing.T) {
				resp := p.rec()
				var body bytes.Buffer
				body.ReadFrom(resp.Body)
				if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body.Bytes(), []byte(`id="`+p.id+`"`)) {
					t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body.String())
				}
				for _, problem := range a11yProblems(t, body.Bytes(), lang) {
					t.Error(problem)
				}
				if p.name == "enrol with errors" && !bytes.Contains(body.Bytes(), []byte(`aria-invalid="true"`)) {
					t.Errorf("no field is marked invalid:\n%s", body.String())
				}
			})
		}
	}
}

// browserIn is a fresh browser in lang.
func (e *env) browserIn(lang string) *browser {
	b := e.browser()
	b.lang = lang
	return b
}

// a11yProblems lists what is wrong with page's markup for a reader in
// lang.
func a11yProblems(t *testing.T, page []byte, lang string) []string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	attr := func(n *html.Node, key string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val, true
			}
		}
		return "", false
	}
	var text func(n *html.Node) string
	text = func(n *html.Node) string {
		if n.Type == html.TextNode {
			return n.Data
		}
		var b strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			b.WriteString(text(c))
		}
		if n.Type == html.ElementNode && n.Data == "img" {
			alt, _ := attr(n, "alt")
			b.WriteString(alt)
		}
		return b.String()
	}
	var all []*html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			all = append(all, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	byID := map[string]*html.Node{}
	labelFor := map[string]string{}
	for _, n := range all {
		if id, ok := attr(n, "id"); ok {
			if byID[id] != nil {
				add("id %q used twice", id)
			}
			byID[id] = n
		}
		if n.Data == "label" {
			if f, ok := attr(n, "for"); ok {
				labelFor[f] += text(n)
			}
		}
	}
	named := func(n *html.Node) string {
		if l, ok := attr(n, "aria-label"); ok {
			return l
		}
		if ids, ok := attr(n, "aria-labelledby"); ok {
			var s string
			for _, id := range strings.Fields(ids) {
				if m := byID[id]; m != nil {
					s += text(m)
				}
			}
			return s
		}
		return ""
	}
	outside := regexp.MustCompile(`^(?i)(https?:)?//`)
	for _, n := range all {
		switch n.Data {
		case "html":
			if l, _ := attr(n, "lang"); l != lang {
				add("<html lang=%q>, want %q", l, lang)
			}
			if d, _ := attr(n, "dir"); d != ui.Dir(lang) {
				add("<html dir=%q>, want %q", d, ui.Dir(lang))
			}
		case "title":
			if strings.TrimSpace(text(n)) == "" {
				add("empty <title>")
			}
		case "input", "select", "textarea":
			typ, _ := attr(n, "type")
			if typ == "hidden" || typ == "submit" || typ == "button" {
				break
			}
			id, _ := attr(n, "id")
			label := named(n)
			if id != "" {
				label += labelFor[id]
			}
			for p := n.Parent; p != nil; p = p.Parent {
				if p.Type == html.ElementNode && p.Data == "label" {
					label += text(p)
				}
			}
			if strings.TrimSpace(label) == "" {
				name, _ := attr(n, "name")
				add("<%s name=%q id=%q> has no label", n.Data, name, id)
			}
		case "button", "a":
			if _, ok := attr(n, "href"); n.Data == "a" && !ok {
				break
			}
			if strings.TrimSpace(text(n)+named(n)) == "" {
				add("<%s> with no text: %s", n.Data, render(n))
			}
		case "img":
			if _, ok := attr(n, "alt"); !ok {
				add("<img> without alt: %s", render(n))
			}
		case "script":
			if _, ok := attr(n, "src"); !ok && strings.TrimSpace(text(n)) != "" {
				add("inline script")
			}
		}
		if v, ok := attr(n, "aria-invalid"); ok && v == "true" {
			ids, _ := attr(n, "aria-describedby")
			said := ""
			for _, id := range strings.Fields(ids) {
				if m := byID[id]; m != nil {
					said += text(m)
				}
			}
			if strings.TrimSpace(said) == "" {
				add("invalid field does not point at its message: %s", render(n))
			}
		}
		for _, key := range []string{"src", "href", "action", "formaction"} {
			if v, ok := attr(n, key); ok && outside.MatchString(v) {
				add("<%s %s=%q> points at another origin", n.Data, key, v)
			}
		}
		if _, ok := attr(n, "style"); ok {
			add("inline style attribute (blocked by the CSP): %s", render(n))
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				add("inline event handler %s (blocked by the CSP)", a.Key)
			}
		}
	}
	return problems
}

func render(n *html.Node) string {
	var b bytes.Buffer
	c := *n
	c.FirstChild, c.LastChild, c.Parent, c.PrevSibling, c.NextSibling = nil, nil, nil, nil, nil
	html.Render(&b, &c)
	return b.String()
}

// TestA11yChecker: the checker above finds each fault it looks for, so a
// page passing it means something.
func TestA11yChecker(t *testing.T) {
	good := `<!doctype html><html lang="en" dir="ltr"><head><title>T</title><link rel="stylesheet" href="/assets/a.css"></head><body>
<form><label for="a">Name</label><input id="a" name="a"><label>Born <input name="b"></label>
<input type="hidden" name="csrf"><input id="c" aria-invalid="true" aria-describedby="c-err"><span id="c-err">Wrong.</span>
<label for="c">C</label><button type="submit">Send</button></form><a href="/x"><img src="/q.png" alt="QR"></a></body></html>`
	if p := a11yProblems(t, []byte(good), "en"); len(p) != 0 {
		t.Fatalf("a good page: %v", p)
	}
	for _, tc := range []struct{ name, page, lang, want string }{
		{"language", good, "ar", `<html lang="en">, want "ar"`},
		{"unlabelled input", `<html lang="en" dir="ltr"><title>T</title><input name="x" id="x">`, "en", "has no label"},
		{"empty label", `<html lang="en" dir="ltr"><title>T</title><label for="x"> </label><select id="x"></select>`, "en", "has no label"},
		{"empty button", `<html lang="en" dir="ltr"><title>T</title><button></button>`, "en", "with no text"},
		{"empty link", `<html lang="en" dir="ltr"><title>T</title><a href="/"><img src="/i.png" alt=""></a>`, "en", "with no text"},
		{"img without alt", `<html lang="en" dir="ltr"><title>T</title><img src="/i.png">`, "en", "without alt"},
		{"invalid without message", `<html lang="en" dir="ltr"><title>T</title><label for="x">X</label><input id="x" aria-invalid="true">`, "en", "does not point at its message"},
		{"CDN", `<html lang="en" dir="ltr"><title>T</title><script src="https://cdn.example/x.js"></script>`, "en", "another origin"},
		{"inline script", `<html lang="en" dir="ltr"><title>T</title><script>alert(1)</script>`, "en", "inline script"},
		{"duplicate id", `<html lang="en" dir="ltr"><title>T</title><p id="a">1</p><p id="a">2</p>`, "en", "used twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := a11yProblems(t, []byte(tc.page), tc.lang)
			if !strings.Contains(strings.Join(p, "\n"), tc.want) {
				t.Fatalf("problems %q, want one saying %q", p, tc.want)
			}
		})
	}
}
