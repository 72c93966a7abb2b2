package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, method, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec
}

func TestShellFiles(t *testing.T) {
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/app/", "text/html; charset=utf-8", `<script src="/app/app.js" defer></script>`},
		{"/app/app.js", "text/javascript; charset=utf-8", "navigator.credentials.create"},
		{"/app/app.css", "text/css; charset=utf-8", "--green"},
		{"/app/sw.js", "text/javascript; charset=utf-8", "thiqa-app-"},
		{"/app/manifest.webmanifest", "application/manifest+json", `"start_url": "/app/"`},
		{"/app/icon.svg", "image/svg+xml", "<svg"},
		{"/app/icon-192.png", "image/png", "\x89PNG"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := get(t, "GET", tc.path)
			if rec.Code != 200 || rec.Header().Get("Content-Type") != tc.ctype || !strings.Contains(rec.Body.String(), tc.contains) {
				t.Fatalf("%d %q, body has %q: %v", rec.Code, rec.Header().Get("Content-Type"), tc.contains, strings.Contains(rec.Body.String(), tc.contains))
			}
			h := rec.Header()
			if h.Get("Content-Security-Policy") != CSP || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("ETag") == "" {
				t.Fatalf("headers %v", h)
			}
			if again := get(t, "GET", tc.path, "If-None-Match", h.Get("ETag")); again.Code != http.StatusNotModified {
				t.Fatalf("revalidation: %d, want 304", again.Code)
			}
		})
	}
}

// The policy allows no inline script, nothing from elsewhere, and the page
// has no inline script or style and loads nothing from another origin.
func TestNoInlineScriptNoCDN(t *testing.T) {
	for _, d := range []string{"'unsafe-inline'", "'unsafe-eval'", "http:", "https:", "*"} {
		if strings.Contains(CSP, d) {
			t.Fatalf("CSP allows %s: %s", d, CSP)
		}
	}
	for _, want := range []string{"script-src 'self'", "default-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(CSP, want) {
			t.Fatalf("CSP lacks %s: %s", want, CSP)
		}
	}
	for _, name := range []string{"index.html", "app.js", "app.css", "sw.js", "manifest.webmanifest"} {
		body := string(load()[name].body)
		for _, bad := range []string{"<script>", " onclick=", " onload=", " style=", "http://", "https://", "//cdn", "innerHTML", "eval("} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
	}
}

func TestManifestAndIcons(t *testing.T) {
	var m struct {
		Name, ShortName, StartURL, Scope, Display, Lang, Dir string
		Icons                                                []struct{ Src, Sizes, Type, Purpose string }
	}
	body := load()["manifest.webmanifest"].body
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m.Scope != "/app/" || m.Display != "standalone" || m.Lang != "ar" || m.Dir != "rtl" {
		t.Fatalf("manifest %+v", m)
	}
	sizes := map[string]bool{}
	for _, ic := range m.Icons {
		rec := get(t, "GET", ic.Src)
		if rec.Code != 200 || rec.Header().Get("Content-Type") != ic.Type {
			t.Fatalf("icon %s: %d %s", ic.Src, rec.Code, rec.Header().Get("Content-Type"))
		}
		if ic.Type != "image/png" {
			continue
		}
		img, err := png.Decode(rec.Body)
		if err != nil {
			t.Fatalf("icon %s: %v", ic.Src, err)
		}
		b := img.Bounds()
		if got := fmt.Sprintf("%dx%d", b.Dx(), b.Dy()); got != ic.Sizes {
			t.Fatalf("icon %s is %s, manifest says %s", ic.Src, got, ic.Sizes)
		}
		sizes[ic.Sizes] = true
	}
	if !sizes["192x192"] || !sizes["512x512"] {
		t.Fatalf("installable apps need 192 and 512 pixel icons, have %v", sizes)
	}
}

// The service worker caches exactly the shell that the server serves, and
// its cache name changes with the shell.
func TestServiceWorkerCachesOnlyTheShell(t *testing.T) {
	sw := string(load()["sw.js"].body)
	if strings.Contains(sw, "__VERSION__") || !strings.Contains(sw, "thiqa-app-") {
		t.Fatal("service worker is not stamped with the shell's version")
	}
	for _, name := range shell {
		if !strings.Contains(sw, "'/app/"+name+"'") {
			t.Errorf("service worker does not cache /app/%s", name)
		}
	}
	if strings.Contains(sw, "/api/") {
		t.Error("service worker mentions the API; it must cache only the shell")
	}
	if rec := get(t, "GET", "/app/sw.js"); rec.Header().Get("Service-Worker-Allowed") != "/app/" {
		t.Fatalf("Service-Worker-Allowed = %q", rec.Header().Get("Service-Worker-Allowed"))
	}
}

func TestRefuses(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"POST", "/app/", 405},
		{"PUT", "/app/app.js", 405},
		{"GET", "/app/nope.js", 404},
		{"GET", "/app/index.html", 404},
		{"GET", "/app/static/app.js", 404},
		{"GET", "/app/../go.mod", 404},
		{"GET", "/elsewhere", 404},
	} {
		rec := get(t, tc.method, tc.path)
		if rec.Code != tc.code || rec.Header().Get("Content-Security-Policy") != CSP {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.code)
		}
	}
}

// FuzzHandler: whatever the method and path, the handler answers with the
// shell's files or 304/404/405, always with the policy, and never panics.
func FuzzHandler(f *testing.F) {
	for _, s := range []string{"/app/", "/app/app.js", "/app/sw.js", "/app/../../etc/passwd", "/app/%2e%2e/go.mod", "/app//app.js", "/app/icon-512.png?x=1"} {
		f.Add("GET", s)
	}
	f.Add("POST", "/app/")
	f.Add("HEAD", "/app/manifest.webmanifest")
	f.Fuzz(func(t *testing.T, method, target string) {
		req, err := http.NewRequest(method, "http://localhost"+target, nil)
		if err != nil || req.URL.Path == "" {
			return
		}
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 304, 404, 405:
		default:
			t.Fatalf("%s %s: %d", method, target, rec.Code)
		}
		if rec.Header().Get("Content-Security-Policy") != CSP {
			t.Fatalf("%s %s: no policy", method, target)
		}
		if rec.Code == 200 {
			name, _ := strings.CutPrefix(req.URL.Path, Prefix)
			if name == "" {
				name = "index.html"
			}
			if _, ok := load()[name]; !ok {
				t.Fatalf("%s %s served something that is not in the shell", method, target)
			}
		}
	})
}

// BenchmarkShell serves the whole shell, as a first visit does, and
// revalidates it, as every later visit does.
func BenchmarkShell(b *testing.B) {
	h := Handler()
	total := 0
	for _, name := range shell {
		total += len(load()[map[bool]string{true: "index.html", false: name}[name == ""]].body)
	}
	for _, revalidate := range []bool{false, true} {
		b.Run(map[bool]string{false: "first", true: "revalidate"}[revalidate], func(b *testing.B) {
			for b.Loop() {
				for _, name := range shell {
					req := httptest.NewRequest("GET", Prefix+name, nil)
					if revalidate {
						n := name
						if n == "" {
							n = "index.html"
						}
						req.Header.Set("If-None-Match", load()[n].etag)
					}
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 && rec.Code != 304 {
						b.Fatal(rec.Code)
					}
				}
			}
			b.ReportMetric(float64(total), "shell-bytes")
		})
	}
}
