package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/problem"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/store"
)

var testNow = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

type enrEnv struct {
	log  *syncBuffer // the server's log
	srv  *Server
	svc  *enrollment.Service
	now  *time.Time
	rp   virtualwebauthn.RelyingParty
	totp map[string]string
}

func newEnrEnv(t testing.TB) *enrEnv {
	t.Helper()
	keys, st := testenv.Keys(t), testenv.Bolt(t)
	e := &enrEnv{totp: map[string]string{}, rp: virtualwebauthn.RelyingParty{ID: "localhost", Name: "Thiqa", Origin: "http://localhost:8080"}}
	now := testNow
	e.now = &now
	clock := func() time.Time { return *e.now }
	authority := testenv.CA(t, keys, st, ca.Options{Clock: clock})
	var err error
	e.svc, err = enrollment.New(st, keys, authority, enrollment.Options{Clock: clock, Argon2: enrollment.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	e.log = &syncBuffer{}
	e.srv = New(Deps{Enrollment: e.svc}, Options{Clock: clock, Logger: slog.New(slog.NewJSONHandler(e.log, nil))})
	_, err = e.svc.CreateCentre(context.Background(), enrollment.Operator("test"), store.Centre{Code: "AMM-01", NameAr: "عمان", NameEn: "Amman 1", Governorate: "Amman"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// call sends a JSON request with an optional bearer token and decodes the
// reply into out (when not nil).
func (e *enrEnv) call(t testing.TB, method, path, token string, body any, out any) *httptest.ResponseRecorder {
	t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	if out != nil && rec.Code < 300 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body)
		}
	}
	return rec
}

// officer creates an officer through the API (as admin when adminTok is
// set, else in process) and signs them in over HTTP.
func (e *enrEnv) officer(t testing.TB, adminTok, user, role string) string {
	t.Helper()
	n := enrollment.NewOfficer{Username: user, Role: role, Centre: "AMM-01", Password: "correct horse battery"}
	var enr enrollment.OfficerEnrolment
	if adminTok == "" {
		var err error
		if enr, err = e.svc.CreateOfficer(context.Background(), enrollment.Operator("test"), n); err != nil {
			t.Fatal(err)
		}
	} else if rec := e.call(t, "POST", "/api/v1/officers", adminTok, n, &enr); rec.Code != 201 {
		t.Fatalf("create officer: %d %s", rec.Code, rec.Body)
	}
	u, _ := url.Parse(enr.TOTPURL)
	e.totp[user] = u.Query().Get("secret")
	code, _ := totp.GenerateCodeCustom(e.totp[user], *e.now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	var s sessionReply
	rec := e.call(t, "POST", "/api/v1/officers/signin", "", map[string]string{"username": user, "password": "correct horse battery", "totp": code}, &s)
	if rec.Code != 200 || s.Token == "" {
		t.Fatalf("officer sign-in: %d %s", rec.Code, rec.Body)
	}
	checkCookie(t, rec, s.Token)
	return s.Token
}

func checkCookie(t testing.TB, rec *httptest.ResponseRecorder, token string) {
	t.Helper()
	c := rec.Result().Cookies()
	if len(c) != 1 || c[0].Name != sessionCookie || c[0].Value != token || !c[0].Secure || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie %+v", c)
	}
}

type testPhone struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

// activate enrols nid and activates it over HTTP; it returns the phone.
func (e *enrEnv) activate(t testing.TB, officerTok, nid string) *testPhone {
	t.Helper()
	var res enrollment.Enrolment
	p := enrollment.Proofing{NationalID: nid, GivenName: "Layla", Surname: "Haddad", GivenNameAr: "ليلى", SurnameAr: "حداد",
		DateOfBirth: "1990-04-12", DocType: "national-id-card", DocNumber: "AB123456", DocExpiry: "2030-01-01", DocCheck: "pass", FaceMatch: "pass"}
	if rec := e.call(t, "POST", "/api/v1/enrollments", officerTok, p, &res); rec.Code != 201 {
		t.Fatalf("enrol: %d %s", rec.Code, rec.Body)
	}
	var ch enrollment.Challenge
	if rec := e.call(t, "POST", "/api/v1/activation/begin", "", map[string]string{"national_id": nid, "code": res.Code.Code}, &ch); rec.Code != 200 {
		t.Fatalf("activation begin: %d %s", rec.Code, rec.Body)
	}
	ao, err := virtualwebauthn.ParseAttestationOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	ph := &testPhone{auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(ao.UserID)}),
		cred: testenv.Passkey(t)}
	resp := virtualwebauthn.CreateAttestationResponse(e.rp, ph.auth, ph.cred, *ao)
	var act enrollment.Activation
	rec := e.call(t, "POST", "/api/v1/activation/finish", "", map[string]any{"ceremony_id": ch.CeremonyID, "device_name": "phone", "credential": json.RawMessage(resp)}, &act)
	if rec.Code != 200 || act.Identity.State != store.IdentityActive || len(act.SigningCert) == 0 {
		t.Fatalf("activation finish: %d %s", rec.Code, rec.Body)
	}
	return ph
}

// signIn signs a phone in over HTTP and returns the reply.
func (e *enrEnv) signIn(t testing.TB, ph *testPhone) (*httptest.ResponseRecorder, sessionReply) {
	t.Helper()
	var ch enrollment.Challenge
	if rec := e.call(t, "POST", "/api/v1/signin/begin", "", nil, &ch); rec.Code != 200 {
		t.Fatalf("sign-in begin: %d %s", rec.Code, rec.Body)
	}
	ao, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	ph.cred.Counter++
	resp := virtualwebauthn.CreateAssertionResponse(e.rp, ph.auth, ph.cred, *ao)
	var s sessionReply
	rec := e.call(t, "POST", "/api/v1/signin/finish", "", map[string]any{"ceremony_id": ch.CeremonyID, "credential": json.RawMessage(resp)}, &s)
	return rec, s
}

func TestEnrollmentHTTP(t *testing.T) {
	e := newEnrEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	ph := e.activate(t, off, "9861234567")
	rec, s := e.signIn(t, ph)
	if rec.Code != 200 || s.Principal.NationalID != "9861234567" {
		t.Fatalf("sign-in finish: %d %s", rec.Code, rec.Body)
	}
	checkCookie(t, rec, s.Token)
	var me enrollment.IdentityView
	if rec := e.call(t, "GET", "/api/v1/me", s.Token, nil, &me); rec.Code != 200 || me.GivenName != "Layla" {
		t.Fatalf("me: %d %s", rec.Code, rec.Body)
	}
	// The cookie works for pages as the bearer token does for the app.
	req := httptest.NewRequest("GET", "/api/v1/me", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: s.Token})
	cr := httptest.NewRecorder()
	e.srv.ServeHTTP(cr, req)
	if cr.Code != 200 {
		t.Fatalf("me with cookie: %d", cr.Code)
	}
	// Officer view, code re-issue refused for an active identity.
	var v enrollment.IdentityView
	if rec := e.call(t, "GET", "/api/v1/identities/9861234567", off, nil, &v); rec.Code != 200 || len(v.Records) != 1 {
		t.Fatalf("identity: %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		slug                      string
	}{
		{"bad national number", "POST", "/api/v1/activation/begin", "", map[string]string{"national_id": "12345", "code": "x"}, 400, "invalid"},
		{"wrong code", "POST", "/api/v1/activation/begin", "", map[string]string{"national_id": "9861234567", "code": "AAAAA-AAAAA"}, 401, "bad-activation-code"},
		{"unknown field", "POST", "/api/v1/activation/begin", "", `{"national_id":"9861234567","code":"x","admin":true}`, 400, "bad-request"},
		{"unknown ceremony", "POST", "/api/v1/signin/finish", "", map[string]string{"ceremony_id": "nope"}, 400, "unknown-ceremony"},
		{"reissue for active", "POST", "/api/v1/identities/9861234567/code", off, nil, 409, "wrong-state"},
		{"citizen on officer route", "GET", "/api/v1/identities/9861234567", s.Token, nil, 403, "forbidden"},
		{"officer on citizen route", "GET", "/api/v1/me", off, nil, 403, "forbidden"},
		{"no token", "GET", "/api/v1/me", "", nil, 401, "unauthorized"},
		{"officer creates officer", "POST", "/api/v1/officers", off, map[string]string{"username": "eve", "role": "admin", "password": "correct horse battery"}, 403, "forbidden"},
		{"bad officer sign-in", "POST", "/api/v1/officers/signin", "", map[string]string{"username": "omar", "password": "x", "totp": "1"}, 401, "bad-credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.call(t, tc.method, tc.path, tc.token, tc.body, nil)
			var p problem.Details
			json.Unmarshal(rec.Body.Bytes(), &p)
			if rec.Code != tc.status || p.Type != problem.TypeBase+tc.slug {
				t.Errorf("%d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.slug)
			}
		})
	}
	// Every refusal above was logged with its request ID and reason.
	refused := 0
	for _, l := range strings.Split(e.log.String(), "\n") {
		if strings.Contains(l, `"msg":"refused"`) && strings.Contains(l, `"request_id":"`) && strings.Contains(l, `"err":"`) {
			refused++
		}
	}
	if refused < 10 {
		t.Errorf("%d refusals logged, want at least 10:\n%s", refused, e.log)
	}
	// Sign out ends the session.
	if rec := e.call(t, "POST", "/api/v1/signout", s.Token, nil, nil); rec.Code != 204 {
		t.Fatalf("sign out: %d", rec.Code)
	}
	if rec := e.call(t, "GET", "/api/v1/me", s.Token, nil, nil); rec.Code != 401 {
		t.Fatalf("after sign out: %d", rec.Code)
	}
	if !strings.Contains(e.call(t, "GET", "/api/v1/centres", off, nil, nil).Body.String(), "AMM-01") {
		t.Error("centres")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fuzzEnv is one service and one pending ceremony of each kind, with a
// real response of each as seeds.
func fuzzSeeds(f *testing.F) (*enrEnv, string, string, []string) {
	e := newEnrEnv(f)
	admin := e.officer(f, "", "root", store.RoleAdmin)
	off := e.officer(f, admin, "omar", store.RoleOfficer)
	ph := e.activate(f, off, "9861234567")
	var act, sig enrollment.Challenge
	res, err := e.svc.Enrol(context.Background(), mustPrincipal(f, e, off), enrollment.Proofing{NationalID: "1234567890", GivenName: "Omar", Surname: "Nasser",
		GivenNameAr: "عمر", SurnameAr: "ناصر", DateOfBirth: "1980-01-01", DocType: "passport", DocNumber: "P1", DocExpiry: "2030-01-01", DocCheck: "pass", FaceMatch: "pass"})
	if err != nil {
		f.Fatal(err)
	}
	e.call(f, "POST", "/api/v1/activation/begin", "", map[string]string{"national_id": "1234567890", "code": res.Code.Code}, &act)
	e.call(f, "POST", "/api/v1/signin/begin", "", nil, &sig)
	ao, _ := virtualwebauthn.ParseAttestationOptions(string(act.Options))
	reg := virtualwebauthn.CreateAttestationResponse(e.rp, virtualwebauthn.NewAuthenticator(), testenv.Passkey(f), *ao)
	so, _ := virtualwebauthn.ParseAssertionOptions(string(sig.Options))
	ph.cred.Counter = 100
	assertion := virtualwebauthn.CreateAssertionResponse(e.rp, ph.auth, ph.cred, *so)
	seeds := []string{reg, assertion, `{}`, `null`, `{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA"}}`}
	return e, act.CeremonyID, sig.CeremonyID, seeds
}

func mustPrincipal(t testing.TB, e *enrEnv, tok string) enrollment.Principal {
	t.Helper()
	p, err := e.svc.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fuzzBody posts a finish body built from the fuzzer's credential and
// checks that the server answers with a client error or success, never a
// 5xx.
func fuzzBody(t *testing.T, e *enrEnv, path, ceremony string, raw []byte, wrap bool) {
	body := string(raw)
	if wrap {
		b, err := json.Marshal(map[string]any{"ceremony_id": ceremony, "device_name": "x", "credential": json.RawMessage(raw)})
		if err != nil {
			return // not valid JSON: sent bare below
		}
		body = string(b)
	}
	rec := e.call(t, "POST", path, "", body, nil)
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %s for %q", path, rec.Code, rec.Body, raw)
	}
}

func FuzzActivationFinish(f *testing.F) {
	e, act, _, seeds := fuzzSeeds(f)
	for _, s := range seeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, raw []byte, wrap bool) {
		fuzzBody(t, e, "/api/v1/activation/finish", act, raw, wrap)
	})
}

func FuzzSignInFinish(f *testing.F) {
	e, _, sig, seeds := fuzzSeeds(f)
	for _, s := range seeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, raw []byte, wrap bool) {
		fuzzBody(t, e, "/api/v1/signin/finish", sig, raw, wrap)
	})
}

func FuzzActivationBegin(f *testing.F) {
	e, _, _, _ := fuzzSeeds(f)
	for _, s := range []string{`{"national_id":"9861234567","code":"AAAAA-AAAAA"}`, `{"national_id":"٩٨٦١٢٣٤٥٦٧","code":"a"}`, `{}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if rec := e.call(t, "POST", "/api/v1/activation/begin", "", string(raw), nil); rec.Code >= 500 {
			t.Fatalf("%d %s for %q", rec.Code, rec.Body, raw)
		}
	})
}

// isEnrollmentPath tells the enrollment part's paths from the others'.
func isEnrollmentPath(p string) bool {
	for _, pre := range []string{"/api/v1/officers", "/api/v1/signout", "/api/v1/centres", "/api/v1/enrollments",
		"/api/v1/identities/", "/api/v1/approvals", "/api/v1/activation/", "/api/v1/signin/", "/api/v1/me"} {
		if p == pre || strings.HasPrefix(p, pre+"/") || (strings.HasSuffix(pre, "/") && strings.HasPrefix(p, pre)) {
			return true
		}
	}
	return false
}

// TestEnrollmentOpenAPI checks that enrollment.openapi.yaml documents every
// enrollment route with the access that routeAccess gives it.
func TestEnrollmentOpenAPI(t *testing.T) {
	raw, err := os.ReadFile("enrollment.openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for route, a := range routeAccess {
		method, path, _ := strings.Cut(route, " ")
		if !isEnrollmentPath(path) {
			continue // documented by their own parts
		}
		i := strings.Index(doc, "\n  "+path+":\n")
		if i < 0 {
			t.Errorf("%s: path not documented", route)
			continue
		}
		rest := doc[i+1:]
		if j := strings.Index(rest[3:], "\n  /"); j >= 0 {
			rest = rest[:j+3]
		}
		m := strings.Index(rest, "\n    "+strings.ToLower(method)+":\n")
		if m < 0 {
			t.Errorf("%s: method not documented", route)
			continue
		}
		var names []string
		for _, k := range kinds {
			if a&k.kind != 0 {
				names = append(names, k.name)
			}
		}
		if want := "x-thiqa-access: [" + strings.Join(names, ", ") + "]"; !strings.Contains(rest[m:], want) {
			t.Errorf("%s: want %q", route, want)
		}
	}
}
