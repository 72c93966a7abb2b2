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

// FuzzAdminForms posts arbitrary forms to every form of /admin/ as a
// signed-in administrator: no answer is a server error, and a refused form
// (4xx) changes nothing the administration page shows (centres, agencies
// and their state, requests waiting for a second administrator).
func FuzzAdminForms(f *testing.F) {
	e := newEnv(f)
	e.officer(f, "root", store.RoleAdmin, "AMM-01")
	e.officer(f, "layla", store.RoleOfficer, "AMM-01")
	ctx := context.Background()
	k, err := e.sign.AddAgency(ctx, signing.NewAgency{Name: "Land Department", Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		f.Fatal(err)
	}
	other := enrollment.Principal{Kind: enrollment.KindOfficer, Username: "sara", Role: store.RoleAdmin}
	req, err := e.sign.RequestAgency(ctx, other, signing.NewAgency{Name: "Civil Status", Scopes: []string{signing.ScopeVerify}}, "partner")
	if err != nil {
		f.Fatal(err)
	}
	admin := e.browser()
	if rec := admin.signIn(f, "admin", "root"); rec.Code != http.StatusSeeOther {
		f.Fatalf("sign in: %d", rec.Code)
	}
	routes := []string{"/admin/centres", "/admin/officers", "/admin/officers/disable", "/admin/admins", "/admin/agencies",
		"/admin/agencies/" + req.ID, "/admin/agencies/" + k.Agency.ID + "/rotate", "/admin/agencies/" + k.Agency.ID + "/disable",
		"/admin/agencies/" + k.Agency.ID + "/enable"}
	seeds := []string{
		"code=ZRQ-01&name_ar=%D8%A7%D9%84%D8%B2%D8%B1%D9%82%D8%A7%D8%A1&name_en=Zarqa&governorate=Zarqa",
		"username=huda&role=officer&centre=AMM-01&password=correct+horse+battery+staple",
		"username=layla&why=left",
		"username=newadmin&centre=AMM-01&why=cover",
		"name=Customs&scope=verify&webhook=https%3A%2F%2Fcustoms.example%2Fhook&why=partner",
		"decision=approve",
		"why=leaked",
		"why=misuse",
		"why=cleared",
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	f.Add(uint8(0), "code=%00&name_ar=x&name_en=&governorate="+strings.Repeat("z", 600))
	f.Add(uint8(1), "username=root&role=admin&centre=NOPE&password=x")
	f.Add(uint8(4), "name=Land+Department&scope=sign-requests&scope=root&why=")
	f.Add(uint8(5), "decision=maybe")
	f.Add(uint8(6), "why=&csrf=forged")
	csrf := regexp.MustCompile(`name="csrf" value="[^"]*"`)
	snapshot := func(t *testing.T) string {
		page := admin.get(t, "/admin/").Body.String()
		list, err := e.sign.Agencies(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, a := range list {
			b.WriteString(a.ID + a.Name)
			if a.Disabled {
				b.WriteString(" disabled")
			}
		}
		return csrf.ReplaceAllString(page, "") + b.String()
	}
	f.Fuzz(func(t *testing.T, route uint8, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		before := snapshot(t)
		rec := admin.post(t, routes[int(route)%len(routes)], form)
		if rec.Code >= 500 || rec.Code < 200 {
			t.Fatalf("POST %s %q: %d\n%s", routes[int(route)%len(routes)], raw, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			if after := snapshot(t); after != before {
				t.Fatalf("POST %s %q refused with %d changed the admin page", routes[int(route)%len(routes)], raw, rec.Code)
			}
		}
	})
}
