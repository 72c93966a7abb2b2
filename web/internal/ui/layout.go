package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"time"
)

//go:embed layout.html
var layoutFS embed.FS

//go:embed assets
var assetsFS embed.FS

// Assets are the shared static files (the style sheet), to be served
// under the assets path.
func Assets() fs.FS {
	sub, _ := fs.Sub(assetsFS, "assets")
	return sub
}

// Page is what the layout needs of every page; Data is the page's own.
type Page struct {
	Lang string
	// Title is the catalogue key of the page title.
	Title string
	// Section is "centre", "verify" or "admin": it picks the navigation.
	Section string
	// CSRF is the token to put in every form.
	CSRF string
	// SwitchURL is this page in the other language.
	SwitchURL string
	// User and Role name the signed-in officer, if any.
	User, Role string
	// Error and Notice are messages shown at the top of the page
	// (already in the page's language).
	Error, Notice string
	Data          any
}

// Dir is the page's writing direction.
func (p Page) Dir() string { return Dir(p.Lang) }

// OtherLang is the language the switch offers.
func (p Page) OtherLang() string { return Other(p.Lang) }

// NewPage starts the page data of a request: its language (see [Lang]),
// CSRF token and language switch link.
func NewPage(w http.ResponseWriter, r *http.Request, section, title string) Page {
	lang := Lang(w, r)
	return Page{Lang: lang, Title: title, Section: section, CSRF: CSRFToken(w, r), SwitchURL: SwitchURL(r.URL, Other(lang))}
}

// SwitchURL returns u with ?lang= set to lang (path and query only).
func SwitchURL(u *url.URL, lang string) string {
	q := u.Query()
	q.Set("lang", lang)
	return (&url.URL{Path: u.Path, RawQuery: q.Encode()}).String()
}

// Funcs are the template functions of every page.
var Funcs = template.FuncMap{
	"t":    T,
	"date": Date,
	// num writes ASCII digits in the page's script.
	"num": func(lang string, v any) string {
		s := fmt.Sprint(v)
		if lang == Arabic {
			return ArabicDigits(s)
		}
		return s
	},
	"dataURL": func(mime string, b []byte) template.URL {
		return template.URL("data:" + mime + ";base64," + b64(b))
	},
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"list": func(s ...string) []string { return s },
}

// Templates are parsed pages, each on the shared layout.
type Templates map[string]*template.Template

// ParseTemplates parses every file of fsys matching glob as a page on
// the layout. A page file defines "content"; the layout shows it.
func ParseTemplates(fsys fs.FS, glob string) (Templates, error) {
	base, err := template.New("layout.html").Funcs(Funcs).ParseFS(layoutFS, "layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, glob)
	if err != nil {
		return nil, err
	}
	out := Templates{}
	for _, n := range names {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if t, err = t.ParseFS(fsys, n); err != nil {
			return nil, err
		}
		out[path.Base(n)] = t
	}
	return out, nil
}

// Render writes page p with template name and status. Pages are never
// cached: they may show codes and personal data.
func (ts Templates) Render(w http.ResponseWriter, status int, name string, p Page) {
	t, ok := ts[name]
	if !ok {
		http.Error(w, "no such page template", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		http.Error(w, "page failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", p.Lang)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
