package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// conformance validates requests and responses against openapi.json and
// remembers which operations answered with which statuses.
type conformance struct {
	doc    *openapi3.T
	router routers.Router
	seen   map[string][]int // "METHOD /path" -> statuses
}

func newConformance(t *testing.T) *conformance {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPI)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json does not validate: %v", err)
	}
	doc.Servers = nil
	openapi3filter.RegisterBodyDecoder("application/pdf", openapi3filter.FileBodyDecoder)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &conformance{doc: doc, router: router, seen: map[string][]int{}}
}

// do sends a request through the server and validates both ways.
func (c *conformance) do(t *testing.T, srv http.Handler, method, path, token string, body []byte, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if len(body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)

	vreq := httptest.NewRequest(method, path, bytes.NewReader(body))
	vreq.Header = req.Header.Clone()
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		if ownPath(path) {
			t.Errorf("%s %s: not in openapi.json: %v", method, path, err)
		}
		return rec
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts}
	if rec.Code < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s: request accepted with %d does not match openapi.json: %v", method, path, rec.Code, err)
		}
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: opts})
	if err != nil {
		t.Errorf("%s %s: response %d does not match openapi.json: %v\n%.300s", method, path, rec.Code, err, rec.Body)
	}
	key := method + " " + route.Path
	c.seen[key] = append(c.seen[key], rec.Code)
	return rec
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOpenAPIConformance runs the signing flow and sweeps every route with
// every kind of principal, validating each request and response against
// openapi.json; then checks that the document and the routes agree.
func TestOpenAPIConformance(t *testing.T) {
	c := newConformance(t)
	e := newSignEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	ph, tok := e.citizen(t, off, "9861234567")
	ag := e.agency(t, "Ministry", signing.ScopeSignRequests)
	decode := func(rec *httptest.ResponseRecorder, v any) {
		t.Helper()
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
		}
	}

	c.do(t, e.srv, "GET", "/api/v1/openapi.json", "", nil, nil)
	body := mustJSON(t, signing.NewRequest{NationalID: "9861234567", PurposeAr: "غرض", PurposeEn: "Purpose", Documents: threeDocuments(t)[:2]})
	idem := http.Header{"Idempotency-Key": {"k1"}}
	var req signing.RequestView
	decode(c.do(t, e.srv, "POST", "/api/v1/sign-requests", ag.Key, body, idem), &req)
	c.do(t, e.srv, "POST", "/api/v1/sign-requests", ag.Key, body, idem)
	c.do(t, e.srv, "POST", "/api/v1/sign-requests", tok, mustJSON(t, signing.NewRequest{PurposeAr: "غرض", PurposeEn: "Mine", Documents: threeDocuments(t)[2:]}), nil)
	c.do(t, e.srv, "GET", "/api/v1/sign-requests?state=pending", tok, nil, nil)
	c.do(t, e.srv, "GET", "/api/v1/sign-requests/"+req.ID, ag.Key, nil, nil)
	c.do(t, e.srv, "GET", "/api/v1/sign-requests/"+req.ID+"/documents/1", tok, nil, nil)
	var ch beginReply
	decode(c.do(t, e.srv, "POST", "/api/v1/sign-requests/"+req.ID+"/approval/begin", tok, nil, nil), &ch)
	opts, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	ph.cred.Counter++
	resp := virtualwebauthn.CreateAssertionResponse(e.rp, ph.auth, ph.cred, *opts)
	fin := mustJSON(t, map[string]any{"ceremony_id": ch.CeremonyID, "credential": json.RawMessage(resp)})
	if rec := c.do(t, e.srv, "POST", "/api/v1/sign-requests/"+req.ID+"/approval/finish", tok, fin, nil); rec.Code != 200 {
		t.Fatalf("approve: %d %s", rec.Code, rec.Body)
	}
	c.do(t, e.srv, "POST", "/api/v1/sign-requests/"+req.ID+"/approval/finish", tok, fin, nil)
	signed := c.do(t, e.srv, "GET", "/api/v1/sign-requests/"+req.ID+"/documents/0/signed", ag.Key, nil, nil)
	c.do(t, e.srv, "GET", "/api/v1/sign-requests/"+req.ID+"/evidence", tok, nil, nil)
	var rep struct{ Indication string }
	decode(c.do(t, e.srv, "POST", "/api/v1/verify", "", signed.Body.Bytes(), http.Header{"Content-Type": {"application/pdf"}}), &rep)
	if rep.Indication != "TOTAL-PASSED" {
		t.Errorf("verify: %s", rep.Indication)
	}
	var other signing.RequestView
	decode(c.do(t, e.srv, "POST", "/api/v1/sign-requests", ag.Key, body, nil), &other)
	c.do(t, e.srv, "POST", "/api/v1/sign-requests/"+other.ID+"/reject", tok, mustJSON(t, map[string]string{"why": "no"}), nil)
	c.do(t, e.srv, "GET", "/api/v1/sign-requests/"+other.ID+"/documents/0/signed", ag.Key, nil, nil)

	// Every route with every kind of principal: mostly refusals, which
	// must be problem documents as described.
	tokens := map[access]string{Admin: admin, Officer: off, Citizen: tok, Agency: ag.Key}
	path := strings.NewReplacer("{nid}", "9861234567", "{device}", "AAAA", "{id}", "nope", "{n}", "0")
	var routes []string
	for r := range routeAccess {
		if !strings.HasSuffix(r, "/signout") {
			routes = append(routes, r)
		}
	}
	sort.Strings(routes)
	for _, k := range kinds {
		for _, route := range routes {
			method, p, _ := strings.Cut(route, " ")
			c.do(t, e.srv, method, path.Replace(p), tokens[k.kind], []byte("{}"), nil)
		}
	}
	c.do(t, e.srv, "POST", "/api/v1/signout", tok, nil, nil)

	// The document and the routes agree, and every signing operation was
	// seen succeeding.
	inDoc := map[string]bool{}
	for p, item := range c.doc.Paths.Map() {
		for m, o := range item.Operations() {
			key := m + " " + p
			inDoc[key] = true
			if _, ok := routeAccess[key]; !ok && !publicRoutes[key] && ownPath(p) {
				t.Errorf("%s: in openapi.json but not in routeAccess", key)
			}
			if len(c.seen[key]) == 0 {
				t.Errorf("%s: never exercised", key)
			}
			if len(o.Tags) > 0 && o.Tags[0] == "signing" && !succeeded(c.seen[key]) {
				t.Errorf("%s: no successful response validated (saw %v)", key, c.seen[key])
			}
		}
	}
	for r := range routeAccess {
		if _, p, _ := strings.Cut(r, " "); ownPath(p) && !inDoc[r] {
			t.Errorf("%s: served but not in openapi.json", r)
		}
	}
}

// ownPath reports whether a path belongs to the parts of the API that
// openapi.json must describe exactly: signing, CSC, verification, service
// requests and the document itself. Other parts (enrollment) keep their own description
// (enrollment.openapi.yaml, checked by TestEnrollmentOpenAPI); their
// responses are validated here when openapi.json describes them.
func ownPath(p string) bool {
	for _, prefix := range []string{"/api/v1/sign-requests", "/api/v1/csc-authorizations", "/csc/v2/", "/api/v1/verify", "/api/v1/openapi.json",
		"/api/v1/service-requests", "/api/v1/agency/service-requests",
		"/api/v1/services", "/api/v1/invoices", "/api/v1/payments"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// publicRoutes are served without looking at credentials, outside
// routeAccess.
var publicRoutes = map[string]bool{"POST /api/v1/verify": true, "GET /api/v1/openapi.json": true}

func succeeded(codes []int) bool {
	for _, c := range codes {
		if c < 300 {
			return true
		}
	}
	return false
}
