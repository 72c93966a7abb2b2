package web

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/thiqa/thiqa/store"
)

// lowContrast lists the visible text of the page in Chromium whose colour
// against the background behind it (the ancestors' background colours
// composited over white, as the browser computed them) is below WCAG 2's
// AA ratio: 4.5:1, or 3:1 for large text (24px, or 18.66px bold). It
// returns {"checked": n, "bad": [...]}.
const lowContrast = `(() => {
	const rgba = (s) => { const m = s.match(/rgba?\(([^)]+)\)/); if (!m) return [0, 0, 0, 0];
		const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
	const over = (top, under) => { const a = top[3]; return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat([1]); };
	const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
		return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
	const background = (el) => { const stack = []; for (let e = el; e; e = e.parentElement) stack.push(rgba(getComputedStyle(e).backgroundColor));
		let bg = [255, 255, 255, 1]; for (let i = stack.length - 1; i >= 0; i--) bg = over(stack[i], bg); return bg; };
	let checked = 0; const bad = [];
	for (const el of document.querySelectorAll('body *')) {
		if (!el.checkVisibility || !el.checkVisibility()) continue;
		const r = el.getBoundingClientRect(); if (r.width < 1 || r.height < 1 || r.right < 0 || r.bottom < 0) continue;
		const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
		const field = el.matches('input:not([type=hidden]):not([type=radio]):not([type=checkbox]), select, textarea, button');
		if (!own && !field) continue;
		const cs = getComputedStyle(el);
		const bg = background(el); const fg = over(rgba(cs.color), bg);
		const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
		const ratio = (l1 + 0.05) / (l2 + 0.05);
		const size = parseFloat(cs.fontSize); const bold = Number(cs.fontWeight) >= 700;
		const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
		checked++;
		if (ratio < need) bad.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + String(el.className).replace(/ /g, '.') : '') +
			' "' + (el.value || el.textContent).trim().slice(0, 30) + '" ' + cs.color + ' on ' + 'rgb(' + bg.slice(0, 3).map(Math.round).join(', ') + ') = ' + ratio.toFixed(2) + ' < ' + need);
	}
	return JSON.stringify({checked, bad}); })()`

// TestBrowserContrast opens each page of /centre/, /admin/ and /verify/
// in Chromium, in the states that bring their colours out (an error, a
// notice, a passed and a failed verification, the header, the forms), and
// checks every visible text against its background for WCAG AA contrast.
func TestBrowserContrast(t *testing.T) {
	e := newEnv(t)
	e.officer(t, "layla", store.RoleOfficer, "AMM-01")
	e.officer(t, "root", store.RoleAdmin, "AMM-01")
	nid := activeIdentity(t, e)
	signed := signedPDF(t, e.pki)
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "signed.pdf"), filepath.Join(dir, "tampered.pdf")
	if err := os.WriteFile(good, signed, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, tamper(t, signed), 0o644); err != nil {
		t.Fatal(err)
	}
	b := tab(t, e)
	type result struct {
		Checked int
		Bad     []string
	}
	measure := func(page string) result {
		t.Helper()
		var got result
		if err := json.Unmarshal([]byte(b.eval(lowContrast)), &got); err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		return got
	}
	// The measure finds grey text on white (2.3:1) and passes the same
	// text when large and dark enough.
	b.open("/verify/", "#upload")
	b.eval(`(() => { const p = document.createElement('p'); p.id = 'faint'; p.textContent = 'faint'; p.style.color = '#aaaaaa';
		document.querySelector('main').append(p); return ''; })()`)
	if got := measure("faint text"); len(got.Bad) != 1 || !strings.HasPrefix(got.Bad[0], "p#faint") {
		t.Fatalf("grey on white not found: %v", got.Bad)
	}
	b.eval(`(() => { const p = document.getElementById('faint'); p.style.color = '#767676'; p.style.fontSize = '30px'; return ''; })()`)
	if got := measure("large text"); len(got.Bad) != 0 {
		t.Fatalf("large #767676 on white (4.5:1) refused: %v", got.Bad)
	}
	check := func(page string) {
		t.Helper()
		got := measure(page)
		if got.Checked < 3 {
			t.Fatalf("%s: only %d texts checked", page, got.Checked)
		}
		if len(got.Bad) > 0 {
			t.Errorf("%s: text below WCAG AA contrast:\n%s", page, strings.Join(got.Bad, "\n"))
		}
	}
	for _, lang := range []string{"ar", "en"} {
		b.open("/verify/?lang="+lang, "#upload")
		check(lang + " verify")
		for name, file := range map[string]string{"passed": good, "failed": bad} {
			b.open("/verify/?lang="+lang, "#upload")
			b.do(chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}), chromedp.WaitVisible(chromedp.CSS("#verdict")))
			check(fmt.Sprintf("%s verify %s", lang, name))
		}

		b.open("/centre/?lang="+lang, "#signin")
		b.fill(map[string]string{"username": "layla", "password": testPassword, "totp": "123456"})
		b.submit(`#signin button[type=submit]`, "#error")
		check(lang + " centre sign-in error")
		b.fill(map[string]string{"username": "layla", "password": testPassword, "totp": e.code(t, "layla")})
		b.submit(`#signin button[type=submit]`, "#find")
		check(lang + " centre home")
		b.open("/centre/enrol", "#enrol")
		b.submit(`#enrol button[type=submit]`, ".field-error")
		check(lang + " enrol errors")
		b.open("/centre/identity?nid="+nid, "#identity")
		check(lang + " identity")
		b.submit(`header form button[type=submit]`, "#signin")

		b.open("/admin/?lang="+lang, "#signin")
		b.fill(map[string]string{"username": "root", "password": testPassword, "totp": e.code(t, "root")})
		b.submit(`#signin button[type=submit]`, "#centres")
		b.fill(map[string]string{"code": "ZRQ-0" + map[string]string{"ar": "1", "en": "2"}[lang], "name_ar": "الزرقاء", "name_en": "Zarqa", "governorate": "Zarqa"})
		b.submit(`#new-centre button[type=submit]`, "#notice")
		check(lang + " admin notice")
		b.submit(`header form button[type=submit]`, "#signin")
	}
}
