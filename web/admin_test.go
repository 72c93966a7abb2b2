package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

func TestAdminPages(t *testing.T) {
	e := newEnv(t)
	e.officer(t, "root", store.RoleAdmin, "AMM-01")
	e.officer(t, "layla", store.RoleOfficer, "AMM-01")

	// An officer cannot sign in to the admin pages, and keeps no session.
	b := e.browser()
	if rec := b.signIn(t, "admin", "layla"); rec.Code != http.StatusForbidden || b.cookies[sessionCookie] != "" {
		t.Fatalf("officer at /admin/: %d %v", rec.Code, b.cookies)
	}
	b = e.browser()
	b.lang = "en"
	if rec := b.signIn(t, "admin", "root"); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/admin/" {
		t.Fatalf("admin sign-in: %d %s", rec.Code, rec.Body)
	}
	rec := b.get(t, "/admin/")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "Amman 1") || !strings.Contains(rec.Body.String(), "Irbid 1") || !strings.Contains(rec.Body.String(), `id="no-agencies"`) {
		t.Fatalf("admin home: %d %s", rec.Code, rec.Body)
	}
	// Agencies are listed, never their keys.
	k, err := e.sign.AddAgency(context.Background(), signing.NewAgency{Name: "Land Department", Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		t.Fatal(err)
	}
	rec = b.get(t, "/admin/")
	if !strings.Contains(rec.Body.String(), "Land Department") || !strings.Contains(rec.Body.String(), k.Agency.ID) || strings.Contains(rec.Body.String(), k.Key) {
		t.Fatalf("agencies: %s", rec.Body)
	}

	// Centres.
	rec = b.post(t, "/admin/centres", url.Values{"code": {"ZRQ-01"}, "name_ar": {"الزرقاء ١"}, "name_en": {"Zarqa 1"}, "governorate": {"Zarqa"}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("add centre: %d %s", rec.Code, rec.Body)
	}
	if rec = b.get(t, rec.Header().Get("Location")); !strings.Contains(rec.Body.String(), "Zarqa 1") || !strings.Contains(rec.Body.String(), "The centre is added") {
		t.Fatalf("after add centre: %s", rec.Body)
	}
	if rec = b.post(t, "/admin/centres", url.Values{"code": {"ZRQ-01"}, "name_ar": {"x"}, "name_en": {"x"}, "governorate": {"x"}}); rec.Code != http.StatusConflict {
		t.Fatalf("duplicate centre: %d", rec.Code)
	}

	// Officers; administrators are not created here (four eyes).
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
	}{
		{"admin role", url.Values{"username": {"boss"}, "role": {"admin"}, "centre": {"AMM-01"}, "password": {testPassword}}, 400},
		{"short password", url.Values{"username": {"rana"}, "role": {"officer"}, "centre": {"AMM-01"}, "password": {"short"}}, 400},
		{"unknown centre", url.Values{"username": {"rana"}, "role": {"officer"}, "centre": {"NOPE"}, "password": {testPassword}}, 404},
	} {
		if rec = b.post(t, "/admin/officers", tc.form); rec.Code != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, rec.Code, tc.status)
		}
	}
	ctx := context.Background()
	if _, _, err := e.svc.OfficerSignIn(ctx, "boss", testPassword, "000000"); err == nil {
		t.Fatal("refused officer exists")
	}
	rec = b.post(t, "/admin/officers", url.Values{"username": {"rana"}, "role": {"supervisor"}, "centre": {"ZRQ-01"}, "password": {testPassword}})
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "otpauth://totp/") {
		t.Fatalf("add officer: %d %s", rec.Code, rec.Body)
	}
	// Disable; a reason is required.
	if rec = b.post(t, "/admin/officers/disable", url.Values{"username": {"rana"}}); rec.Code != http.StatusBadRequest {
		t.Fatalf("disable without why: %d", rec.Code)
	}
	if rec = b.post(t, "/admin/officers/disable", url.Values{"username": {"rana"}, "why": {"left the service"}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", rec.Code, rec.Body)
	}
}

// TestAgencyFourEyesPages: one administrator asks for an agency, the same
// one cannot approve, another approves and sees the key once; it works.
func TestAgencyFourEyesPages(t *testing.T) {
	e := newEnv(t)
	e.officer(t, "rana", store.RoleAdmin, "AMM-01")
	e.officer(t, "omar", store.RoleAdmin, "AMM-01")
	ctx := context.Background()
	rana := e.browser()
	rana.signIn(t, "admin", "rana")
	// Bad input: refused, nothing recorded.
	if rec := rana.post(t, "/admin/agencies", url.Values{"name": {"Land Department"}, "why": {"partner"}}); rec.Code != http.StatusBadRequest {
		t.Fatalf("no scope: %d", rec.Code)
	}
	if rec := rana.post(t, "/admin/agencies", url.Values{"name": {"Land Department"}, "scope": {"sign-requests", "root"}, "why": {"partner"}}); rec.Code != http.StatusBadRequest {
		t.Fatalf("unknown scope: %d", rec.Code)
	}
	rec := rana.post(t, "/admin/agencies", url.Values{"name": {"Land Department"}, "scope": {"sign-requests", "verify"}, "why": {"new partner"}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("request: %d %s", rec.Code, rec.Body)
	}
	rec = rana.get(t, rec.Header().Get("Location"))
	if !strings.Contains(rec.Body.String(), "Land Department") || !strings.Contains(rec.Body.String(), "بانتظار مدير آخر") {
		t.Fatalf("requester's page: %s", rec.Body)
	}
	reqs, err := e.sign.AgencyRequests(ctx, enrollment.Principal{Kind: enrollment.KindOfficer, Username: "x", Role: store.RoleAdmin})
	if err != nil || len(reqs) != 1 {
		t.Fatalf("requests: %v %v", reqs, err)
	}
	path := "/admin/agencies/" + reqs[0].ID
	if rec = rana.post(t, path, url.Values{"decision": {"approve"}}); rec.Code != http.StatusForbidden {
		t.Fatalf("requester approves: %d", rec.Code)
	}
	if list, _ := e.sign.Agencies(ctx); len(list) != 0 {
		t.Fatalf("registered without a second administrator: %v", list)
	}
	omar := e.browser()
	omar.signIn(t, "admin", "omar")
	rec = omar.post(t, path, url.Values{"decision": {"approve"}})
	m := regexp.MustCompile(`id="api-key">([^<]+)<`).FindStringSubmatch(rec.Body.String())
	if rec.Code != 200 || m == nil {
		t.Fatalf("approve: %d %s", rec.Code, rec.Body)
	}
	if a, err := e.sign.AuthenticateAgency(ctx, m[1]); err != nil || a.Name != "Land Department" {
		t.Fatalf("the key shown does not work: %v", err)
	}
	// Shown once: the next page has no key.
	if rec = omar.get(t, "/admin/"); strings.Contains(rec.Body.String(), m[1]) || !strings.Contains(rec.Body.String(), "Land Department") {
		t.Fatalf("after approval: %s", rec.Body)
	}
	if rec = omar.post(t, path, url.Values{"decision": {"reject"}}); rec.Code != http.StatusConflict {
		t.Fatalf("decided twice: %d", rec.Code)
	}
}

// TestAdminAccountFourEyesPages: an administrator account is asked by one
// administrator and created when another approves; the first password and
// TOTP secret shown once sign the new administrator in.
func TestAdminAccountFourEyesPages(t *testing.T) {
	e := newEnv(t)
	e.officer(t, "rana", store.RoleAdmin, "AMM-01")
	e.officer(t, "omar", store.RoleAdmin, "AMM-01")
	rana := e.browser()
	rana.signIn(t, "admin", "rana")
	if rec := rana.post(t, "/admin/admins", url.Values{"username": {"Bad Name"}, "why": {"x"}}); rec.Code != http.StatusBadRequest {
		t.Fatalf("bad username: %d", rec.Code)
	}
	rec := rana.post(t, "/admin/admins", url.Values{"username": {"boss"}, "centre": {""}, "why": {"night shift"}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("request: %d %s", rec.Code, rec.Body)
	}
	rec = rana.get(t, "/admin/")
	m := regexp.MustCompile(`action="/admin/admins/([^"]+)"`).FindStringSubmatch(rec.Body.String())
	if m != nil || !strings.Contains(rec.Body.String(), "boss") {
		t.Fatalf("the requester is offered to approve, or the request is missing: %s", rec.Body)
	}
	omar := e.browser()
	omar.signIn(t, "admin", "omar")
	rec = omar.get(t, "/admin/")
	m = regexp.MustCompile(`action="/admin/admins/([^"]+)"`).FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("no pending request for the second administrator: %s", rec.Body)
	}
	if rec = rana.post(t, "/admin/admins/"+m[1], url.Values{"decision": {"approve"}}); rec.Code != http.StatusForbidden {
		t.Fatalf("requester approves: %d", rec.Code)
	}
	rec = omar.post(t, "/admin/admins/"+m[1], url.Values{"decision": {"approve"}})
	pw := regexp.MustCompile(`id="first-password">([^<]+)<`).FindStringSubmatch(rec.Body.String())
	secret := regexp.MustCompile(`secret=([A-Z2-7]+)`).FindStringSubmatch(rec.Body.String())
	if rec.Code != 200 || pw == nil || secret == nil {
		t.Fatalf("approve: %d %s", rec.Code, rec.Body)
	}
	e.totp["boss"] = secret[1]
	boss := e.browser()
	if rec = boss.post(t, "/admin/signin", url.Values{"username": {"boss"}, "password": {pw[1]}, "totp": {e.code(t, "boss")}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("new administrator signs in: %d %s", rec.Code, rec.Body)
	}
	if rec = omar.post(t, "/admin/admins/"+m[1], url.Values{"decision": {"reject"}}); rec.Code != http.StatusConflict {
		t.Fatalf("decided twice: %d", rec.Code)
	}
}
