package app_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/thiqa/thiqa/internal/browsertest"
)

// TestInstallableAndOffline: Chromium finds the app installable (manifest,
// icons, service worker), the service worker caches the shell and nothing
// of the API even after a signed-in session, and the shell opens with the
// server gone.
func TestInstallableAndOffline(t *testing.T) {
	e := newEnv(t)
	code := e.enrol(t, e.officer(t, "amal"), nid)
	c := newCitizen(t, e)
	// The check is real: a blank page is not installable.
	if blank, err := chromedp.Call(c.ctx, page.GetInstallabilityErrors, cdp.Empty{}); err != nil || len(blank.InstallabilityErrors) == 0 {
		t.Fatalf("about:blank: installability errors %v (%v), want some", blank.InstallabilityErrors, err)
	}
	c.activateAndSignIn(nid, code, "")
	c.waitJS(`!!navigator.serviceWorker.controller`)

	m, err := chromedp.Call(c.ctx, page.GetAppManifest, page.GetAppManifestParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Errors) != 0 || !strings.HasSuffix(m.URL, "/app/manifest.webmanifest") {
		t.Fatalf("manifest %s: errors %v", m.URL, m.Errors)
	}
	inst, err := chromedp.Call(c.ctx, page.GetInstallabilityErrors, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ie := range inst.InstallabilityErrors {
		t.Errorf("not installable: %s %v", ie.ErrorID, ie.ErrorArguments)
	}

	cached, err := browsertest.Run(t, c.ctx, chromedp.Evaluate[string](`(async () => {
		const out = [];
		for (const k of await caches.keys()) for (const r of await (await caches.open(k)).keys()) out.push(new URL(r.url).pathname);
		return JSON.stringify(out.sort());
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	if err := json.Unmarshal([]byte(cached), &paths); err != nil {
		t.Fatal(err)
	}
	want := []string{"/app/", "/app/app.css", "/app/app.js", "/app/icon-192.png", "/app/icon-512.png", "/app/icon.svg", "/app/manifest.webmanifest"}
	if !slices.Equal(paths, want) {
		t.Fatalf("service worker cached %v, want only the shell %v", paths, want)
	}

	e.stop()
	c.open("/app/")
	c.waitJS(`!document.getElementById('error').hidden`)
	if k := c.errorKey(); k != "err_network" {
		t.Fatalf("offline app shows %q, want err_network", k)
	}
	browsertest.Screenshot(c.ctx, t, "offline-ar")
}
