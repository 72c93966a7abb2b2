package app

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// Prefix is where the app is mounted.
const Prefix = "/app/"

// CSP is the Content-Security-Policy of every response of the app: its own
// script, style, manifest, worker and images only (PDF previews are blob:
// URLs), API calls to this origin only, no frames, no forms posted
// anywhere, no inline script.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; manifest-src 'self'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

//go:embed static
var static embed.FS

// shell lists the files of the app shell, which the service worker caches;
// "" is the page itself (/app/).
var shell = []string{"", "app.js", "app.css", "manifest.webmanifest", "icon.svg", "icon-192.png", "icon-512.png"}

var types = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".webmanifest": "application/manifest+json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
}

// asset is one file of the app, ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

var (
	loadOnce sync.Once
	assets   map[string]asset
)

// load reads the embedded files, draws the PNG icons and stamps the service
// worker with a version made of the hashes of the shell, so that a new
// binary replaces the cached shell.
func load() map[string]asset {
	loadOnce.Do(func() {
		files := map[string][]byte{}
		fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := static.ReadFile(p)
			files[strings.TrimPrefix(p, "static/")] = b
			return err
		})
		files["icon-192.png"] = icon(192)
		files["icon-512.png"] = icon(512)
		version := sha256.New()
		for _, name := range shell {
			if name == "" {
				name = "index.html"
			}
			version.Write(files[name])
		}
		v := hex.EncodeToString(version.Sum(nil))[:16]
		files["sw.js"] = bytes.ReplaceAll(files["sw.js"], []byte("__VERSION__"), []byte(v))
		assets = map[string]asset{}
		for name, b := range files {
			sum := sha256.Sum256(b)
			assets[name] = asset{body: b, ctype: types[path.Ext(name)], etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		}
	})
	return assets
}

// Handler serves the app under [Prefix]: GET and HEAD only, the shell at
// /app/ and its files by name; anything else is 404 or 405.
func Handler() http.Handler {
	files := load()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w.Header())
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, Prefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if name == "" {
			name = "index.html"
		}
		a, ok := files[name]
		if !ok || name == "index.html" && r.URL.Path != Prefix {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("ETag", a.etag)
		// Revalidate every time: the shell is small and a new binary must
		// take effect at once; the service worker keeps a copy offline.
		h.Set("Cache-Control", "no-cache")
		if name == "sw.js" {
			h.Set("Service-Worker-Allowed", Prefix)
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	})
}

// secure sets the security headers of every response.
func secure(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), "+
		"publickey-credentials-create=(self), publickey-credentials-get=(self)")
}
