package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

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
