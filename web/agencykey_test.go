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

// TestAgencyKeyPages: on /admin/ one administrator asks for a new key of
// an agency whose key leaked, with a reason; the old key keeps working
// until a second administrator approves and is shown the new key once;
// then an administrator disables the agency (its key is refused) and
// enables it again. Bad input and officers are refused and change
// nothing.
func TestAgencyKeyPages(t *testing.T) {
	e := newEnv(t)
	e.officer(t, "rana", store.RoleAdmin, "AMM-01")
	e.officer(t, "omar", store.RoleAdmin, "AMM-01")
	e.officer(t, "layla", store.RoleOfficer, "AMM-01")
	ctx := context.Background()
	old, err := e.sign.AddAgency(ctx, signing.NewAgency{Name: "Land Department", Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		t.Fatal(err)
	}
	works := func(key string) bool { _, err := e.sign.AuthenticateAgency(ctx, key); return err == nil }
	rana := e.browser()
	rana.lang = "en"
	rana.signIn(t, "admin", "rana")
	base := "/admin/agencies/" + old.Agency.ID
	if page := rana.get(t, "/admin/").Body.String(); !strings.Contains(page, `action="`+base+`/rotate"`) || !strings.Contains(page, `action="`+base+`/disable"`) {
		t.Fatalf("the agency has no key and state forms: %s", page)
	}

	// Refused, nothing recorded.
	officer := e.signedIn(t, "layla")
	for _, tc := range []struct {
		name   string
		b      *browser
		path   string
		form   url.Values
		status int
	}{
		{"officer asks for a key", officer, base + "/rotate", url.Values{"why": {"leaked"}}, http.StatusForbidden},
		{"officer disables", officer, base + "/disable", url.Values{"why": {"leaked"}}, http.StatusForbidden},
		{"no reason", rana, base + "/rotate", nil, http.StatusBadRequest},
		{"unknown agency", rana, "/admin/agencies/NOPE/rotate", url.Values{"why": {"leaked"}}, http.StatusNotFound},
		{"disable without a reason", rana, base + "/disable", url.Values{"why": {" "}}, http.StatusBadRequest},
		{"disable an unknown agency", rana, "/admin/agencies/NOPE/disable", url.Values{"why": {"x"}}, http.StatusNotFound},
		{"no CSRF token", rana, base + "/disable", url.Values{"why": {"x"}, "csrf": {"forged"}}, http.StatusForbidden},
	} {
		if rec := tc.b.post(t, tc.path, tc.form); rec.Code != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, rec.Code, tc.status)
		}
	}
	admin := enrollment.Principal{Kind: enrollment.KindOfficer, Username: "x", Role: store.RoleAdmin}
	if reqs, _ := e.sign.AgencyRequests(ctx, admin); len(reqs) != 0 || !works(old.Key) {
		t.Fatalf("refused requests changed something: %v, old key works %v", reqs, works(old.Key))
	}

	// Ask, then a second administrator approves.
	rec := rana.post(t, base+"/rotate", url.Values{"why": {"the key was pasted in a ticket"}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("ask for a key: %d %s", rec.Code, rec.Body)
	}
	if page := rana.get(t, rec.Header().Get("Location")).Body.String(); !strings.Contains(page, "waits for a second administrator") || !strings.Contains(page, `class="kind-rotate"`) {
		t.Fatalf("after asking: %s", page)
	}
	reqs, _ := e.sign.AgencyRequests(ctx, admin)
	if len(reqs) != 1 || !works(old.Key) {
		t.Fatalf("requests %v; old key works before approval: %v", reqs, works(old.Key))
	}
	if rec = rana.post(t, "/admin/agencies/"+reqs[0].ID, url.Values{"decision": {"approve"}}); rec.Code != http.StatusForbidden {
		t.Fatalf("requester approves: %d", rec.Code)
	}
	omar := e.browser()
	omar.lang = "en"
	omar.signIn(t, "admin", "omar")
	rec = omar.post(t, "/admin/agencies/"+reqs[0].ID, url.Values{"decision": {"approve"}})
	m := regexp.MustCompile(`id="api-key">([^<]+)<`).FindStringSubmatch(rec.Body.String())
	if rec.Code != 200 || m == nil || strings.Contains(rec.Body.String(), `id="webhook-secret"`) || !strings.Contains(rec.Body.String(), "the old key no longer works") {
		t.Fatalf("approve: %d %s", rec.Code, rec.Body)
	}
	if works(old.Key) || !works(m[1]) {
		t.Fatalf("after approval: old key works %v, new key works %v", works(old.Key), works(m[1]))
	}
	if page := omar.get(t, "/admin/").Body.String(); strings.Contains(page, m[1]) {
		t.Fatal("the new key is shown again")
	}

	// Disable, then enable.
	rec = rana.post(t, base+"/disable", url.Values{"why": {"sending documents to the wrong citizens"}})
	if rec.Code != http.StatusSeeOther || works(m[1]) {
		t.Fatalf("disable: %d; key works %v", rec.Code, works(m[1]))
	}
	page := rana.get(t, rec.Header().Get("Location")).Body.String()
	if !strings.Contains(page, "The agency is disabled") || !strings.Contains(page, `action="`+base+`/enable"`) {
		t.Fatalf("after disabling: %s", page)
	}
	if rec = omar.post(t, base+"/enable", url.Values{"why": {"cleared by the ministry"}}); rec.Code != http.StatusSeeOther || !works(m[1]) {
		t.Fatalf("enable: %d; key works %v", rec.Code, works(m[1]))
	}
}
