package app_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// unlabelled lists the visible form controls without a label and the
// visible buttons and links without text, in the page as it is.
const unlabelled = `(() => { const shown = [...document.querySelectorAll('input, select, button, a[href]')]
	.filter((el) => el.offsetParent !== null);
	return shown.length + ' ' + JSON.stringify(shown.filter((el) => el.matches('input, select') ? el.labels.length === 0 || [...el.labels].every((l) => !l.textContent.trim())
		: !(el.textContent.trim() || el.getAttribute('aria-label')))
	.map((el) => el.outerHTML.slice(0, 80))); })()`

// TestAccessible: every visible control of each view has a label or a
// text, in both languages, and a citizen activates with the keyboard only
// (Tab between fields, Enter to send).
func TestAccessible(t *testing.T) {
	e := newEnv(t)
	code := e.enrol(t, e.officer(t, "amal"), nid)
	c := newCitizen(t, e)
	check := func(view string) {
		t.Helper()
		for _, l := range []string{"ar", "en"} {
			c.lang(l)
			n, bad, _ := strings.Cut(c.eval(unlabelled), " ")
			if bad != "[]" || n == "0" {
				t.Errorf("%s in %s: %s controls shown, unlabelled: %s", view, l, n, bad)
			}
		}
		c.lang("ar")
	}
	c.open("/app/")
	c.view("welcome")
	check("welcome")
	c.open("/app/#/activate")
	c.view("activate")
	check("activate")

	// Keyboard only: focus the first field, type, Tab, type, Enter.
	c.do(chromedp.Focus(chromedp.ID("nid")), chromedp.KeyEvent(nid), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(code), chromedp.KeyEvent(kb.Enter))
	c.view("activated")
	check("activated")
	c.click("#signin-after")
	c.view("requests")
	check("requests")
	for _, tab := range []string{"history", "devices", "lost"} {
		c.click(`#tabs a[data-tab="` + tab + `"]`)
		c.view(tab)
		check(tab)
	}
}
