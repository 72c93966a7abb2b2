package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/store"
)

// fuzzedRoute is an enrollment route whose JSON body the fuzzer writes,
// with the role whose session sends it ("" for none) and a real body.
type fuzzedRoute struct {
	path, role, seed string
}

var officerBodyRoutes = []fuzzedRoute{
	{"/api/v1/officers/signin", "", `{"username":"omar","password":"correct horse battery","totp":"123456"}`},
	{"/api/v1/centres", store.RoleAdmin, `{"code":"IRB-01","name_ar":"إربد","name_en":"Irbid 1","governorate":"Irbid"}`},
	{"/api/v1/officers", store.RoleAdmin, `{"username":"huda","role":"officer","centre":"AMM-01","password":"another long password"}`},
	{"/api/v1/officers/nobody/disable", store.RoleAdmin, `{"why":"left the service"}`},
	{"/api/v1/enrollments", store.RoleOfficer, `{"national_id":"9861234568","given_name":"Omar","surname":"Nasser","given_name_ar":"عمر","surname_ar":"ناصر",` +
		`"date_of_birth":"1980-01-01","doc_type":"passport","doc_number":"P1","doc_expiry":"2030-01-01","doc_check":"pass","face_match":"pass"}`},
	{"/api/v1/identities/9861234567/suspend", store.RoleOfficer, `{"why":"phone lost"}`},
	{"/api/v1/identities/9861234567/resume", store.RoleOfficer, `{"why":"phone found"}`},
	{"/api/v1/identities/9861234567/revoke", store.RoleOfficer, `{"reason":"keyCompromise","why":"phone stolen"}`},
	{"/api/v1/identities/9861234567/devices/phone/disable", store.RoleOfficer, `{"why":"phone stolen"}`},
}

// FuzzOfficerBodies posts fuzzed JSON bodies to the officers' and
// admins' enrollment routes (and the officers' unauthenticated sign-in),
// each with a real session of the role the route needs. The server must
// answer with success or a client error carrying an RFC 9457 problem body
// whose status is the response's; never a 5xx, never a panic.
func FuzzOfficerBodies(f *testing.F) {
	e := newEnrEnv(f)
	tokens := map[string]string{}
	tokens[store.RoleAdmin] = e.officer(f, "", "root", store.RoleAdmin)
	tokens[store.RoleOfficer] = e.officer(f, tokens[store.RoleAdmin], "omar", store.RoleOfficer)
	e.activate(f, tokens[store.RoleOfficer], "9861234567")
	for i, r := range officerBodyRoutes {
		for _, s := range []string{r.seed, `{}`, `null`, `[]`, `{"why":` + strings.Repeat(`"x`, 3) + `}`, r.seed[:len(r.seed)/2]} {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, i uint8, raw []byte) {
		r := officerBodyRoutes[int(i)%len(officerBodyRoutes)]
		rec := e.call(t, "POST", r.path, tokens[r.role], string(raw), nil)
		if rec.Code >= 500 {
			t.Fatalf("%s: %d %s for %q", r.path, rec.Code, rec.Body, raw)
		}
		if rec.Code < 400 {
			return
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%s: %d with Content-Type %q for %q", r.path, rec.Code, ct, raw)
		}
		var p struct {
			Status int    `json:"status"`
			Title  string `json:"title"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || p.Title == "" {
			t.Fatalf("%s: problem body %s (%v) for %d", r.path, rec.Body, err, rec.Code)
		}
	})
}
