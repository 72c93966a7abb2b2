package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/internal/problem"
	"github.com/thiqa/thiqa/store"
)

// limitedServer is the environment's API with rate limits counted in lim.
func (e *signEnv) limitedServer(lim RateLimiter, limits RateLimits) *Server {
	return New(Deps{Enrollment: e.svc, Signing: e.signing}, Options{Clock: func() time.Time { return *e.now }, Limiter: lim, Limits: limits})
}

// from sends a JSON request from the client address ip.
func from(srv *Server, ip, method, path string, body any) *httptest.ResponseRecorder {
	raw, _ := json.Marshal(body)
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	req.RemoteAddr = ip + ":40000"
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

// checkLimited checks a 429 problem document with a Retry-After.
func checkLimited(t *testing.T, rec *httptest.ResponseRecorder, retry time.Duration) {
	t.Helper()
	var pd problem.Details
	if rec.Code != 429 || json.Unmarshal(rec.Body.Bytes(), &pd) != nil || pd.Type != problem.TypeBase+"rate-limited" || pd.Status != 429 {
		t.Fatalf("want 429 rate-limited problem, got %d %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Retry-After"); got != strconv.Itoa(int(retry.Seconds())) {
		t.Fatalf("Retry-After %q, want %d", got, int(retry.Seconds()))
	}
}

// TestActivationRateLimits: activation attempts for one national number
// are limited whatever the address, and attempts from one address
// whatever the number; a limited attempt changes nothing stored, and the
// window's end lets attempts through again.
func TestActivationRateLimits(t *testing.T) {
	e := newSignEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	for _, nid := range []string{"9861234567", "9861234568"} {
		p := enrollment.Proofing{NationalID: nid, GivenName: "Layla", Surname: "Haddad", GivenNameAr: "ليلى", SurnameAr: "حداد",
			DateOfBirth: "1990-04-12", DocType: "national-id-card", DocNumber: "AB123456", DocExpiry: "2030-01-01", DocCheck: "pass", FaceMatch: "pass"}
		if rec := e.call(t, "POST", "/api/v1/enrollments", off, p, nil); rec.Code != 201 {
			t.Fatalf("enrol: %d %s", rec.Code, rec.Body)
		}
	}
	srv := e.limitedServer(e.st, RateLimits{Window: time.Minute, PerNationalID: 2, PerIP: 3})
	wrong := func(nid string) map[string]string {
		return map[string]string{"national_id": nid, "code": "AAAA-AAAA-AAAA"}
	}
	for i, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		if rec := from(srv, ip, "POST", "/api/v1/activation/begin", wrong("9861234567")); rec.Code == 429 || rec.Code == 200 {
			t.Fatalf("attempt %d: %d %s, want a wrong-code refusal", i, rec.Code, rec.Body)
		}
	}
	before := e.snapshotIdentity(t, "9861234567")
	// Third attempt for the number, from a third address, with the
	// Arabic-Indic form of the same number.
	checkLimited(t, from(srv, "192.0.2.3", "POST", "/api/v1/activation/begin", wrong("٩٨٦١٢٣٤٥٦٧")), time.Minute)
	if after := e.snapshotIdentity(t, "9861234567"); after != before {
		t.Fatalf("a limited attempt changed the identity:\n%s\n%s", before, after)
	}
	// The other number from 192.0.2.1: its third attempt from there hits
	// the address limit.
	from(srv, "192.0.2.1", "POST", "/api/v1/activation/begin", wrong("9861234568"))
	from(srv, "192.0.2.1", "POST", "/api/v1/activation/begin", wrong("9861234568"))
	checkLimited(t, from(srv, "192.0.2.1", "POST", "/api/v1/activation/begin", wrong("9861234568")), time.Minute)
	*e.now = e.now.Add(time.Minute)
	if rec := from(srv, "192.0.2.3", "POST", "/api/v1/activation/begin", wrong("9861234567")); rec.Code == 429 {
		t.Fatalf("after the window: %d %s", rec.Code, rec.Body)
	}
}

// snapshotIdentity is the stored identity as JSON.
func (e *signEnv) snapshotIdentity(t *testing.T, nid string) string {
	t.Helper()
	var id store.Identity
	err := e.st.EnrollmentView(context.Background(), func(tx store.EnrollmentTx) (err error) {
		id, err = tx.Identity(nid)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(id)
	return string(b)
}

// TestOfficerSignInRateLimit: an officer account takes PerOfficer
// attempts per window; the next, even with the right password and code,
// is refused without opening a session or counting a failure.
func TestOfficerSignInRateLimit(t *testing.T) {
	e := newSignEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	e.officer(t, admin, "omar", store.RoleOfficer)
	srv := e.limitedServer(e.st, RateLimits{Window: 5 * time.Minute, PerOfficer: 2})
	bad := map[string]string{"username": "omar", "password": "wrong password!", "totp": "000000"}
	for range 2 {
		if rec := from(srv, "192.0.2.1", "POST", "/api/v1/officers/signin", bad); rec.Code != 401 {
			t.Fatalf("wrong password: %d %s", rec.Code, rec.Body)
		}
	}
	*e.now = e.now.Add(time.Minute)
	code, _ := totp.GenerateCodeCustom(e.totp["omar"], *e.now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	good := map[string]string{"username": "omar", "password": "correct horse battery", "totp": code}
	checkLimited(t, from(srv, "192.0.2.9", "POST", "/api/v1/officers/signin", good), 4*time.Minute)
	var o store.Officer
	e.st.EnrollmentView(context.Background(), func(tx store.EnrollmentTx) (err error) {
		o, err = tx.Officer("omar")
		return err
	})
	if o.Failures != 2 {
		t.Fatalf("failures %d after the limited attempt, want 2", o.Failures)
	}
	*e.now = e.now.Add(4 * time.Minute)
	code, _ = totp.GenerateCodeCustom(e.totp["omar"], *e.now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	good["totp"] = code
	if rec := from(srv, "192.0.2.9", "POST", "/api/v1/officers/signin", good); rec.Code != 200 {
		t.Fatalf("after the window: %d %s", rec.Code, rec.Body)
	}
}

// TestSignInRateLimitAcrossReplicas: two API replicas counting in one
// PostgreSQL database share the per-address limit of citizen sign-in.
func TestSignInRateLimitAcrossReplicas(t *testing.T) {
	e := newSignEnv(t)
	pg, err := store.OpenPostgres(context.Background(), pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	limits := RateLimits{Window: time.Minute, PerIP: 4}
	replicas := []*Server{e.limitedServer(pg, limits), e.limitedServer(pg, limits)}
	for i := range 4 {
		if rec := from(replicas[i%2], "198.51.100.7", "POST", "/api/v1/signin/begin", nil); rec.Code != 200 {
			t.Fatalf("sign-in begin %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	checkLimited(t, from(replicas[0], "198.51.100.7", "POST", "/api/v1/signin/begin", nil), time.Minute)
	checkLimited(t, from(replicas[1], "198.51.100.7", "POST", "/api/v1/signin/finish", map[string]any{"ceremony_id": "x", "credential": map[string]any{}}), time.Minute)
	if rec := from(replicas[1], "198.51.100.8", "POST", "/api/v1/signin/begin", nil); rec.Code != 200 {
		t.Fatalf("another address: %d %s", rec.Code, rec.Body)
	}
}

// TestCitizenSignInRateLimit: sign-ins with one identity's passkeys are
// limited per identity (named by the assertion's user handle), whatever
// the address; another citizen is not held back.
func TestCitizenSignInRateLimit(t *testing.T) {
	e := newSignEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	layla, _ := e.citizen(t, off, "9861234567")
	other, _ := e.citizen(t, off, "9861234568")
	e.srv = e.limitedServer(e.st, RateLimits{Window: time.Minute, PerNationalID: 2})
	for i := range 2 {
		if rec, _ := e.signIn(t, layla); rec.Code != 200 {
			t.Fatalf("sign-in %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	rec, _ := e.signIn(t, layla)
	checkLimited(t, rec, time.Minute)
	if rec, _ := e.signIn(t, other); rec.Code != 200 {
		t.Fatalf("another citizen: %d %s", rec.Code, rec.Body)
	}
}

// TestRateLimitedMatchesOpenAPI: the 429 answer of each limited endpoint
// matches its documented response.
func TestRateLimitedMatchesOpenAPI(t *testing.T) {
	e := newSignEnv(t)
	c := newConformance(t)
	srv := e.limitedServer(e.st, RateLimits{Window: time.Minute, PerIP: 1, PerOfficer: 1, PerNationalID: 1})
	for _, tc := range []struct{ path, body string }{
		{"/api/v1/activation/begin", `{"national_id":"9861234567","code":"AAAA-AAAA-AAAA"}`},
		{"/api/v1/signin/begin", ""},
		{"/api/v1/officers/signin", `{"username":"omar","password":"wrong password!","totp":"000000"}`},
	} {
		c.do(t, srv, "POST", tc.path, "", []byte(tc.body), nil)
		if rec := c.do(t, srv, "POST", tc.path, "", []byte(tc.body), nil); rec.Code != 429 {
			t.Errorf("%s: second attempt %d, want 429", tc.path, rec.Code)
		}
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"direct", "198.51.100.7:4000", nil, "198.51.100.7"},
		{"direct ignores the header", "198.51.100.7:4000", []string{"203.0.113.9"}, "198.51.100.7"},
		{"through a proxy", "10.1.2.3:4000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"forged left-most entry", "10.1.2.3:4000", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"two proxies", "10.1.2.3:4000", []string{"203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"headers repeated", "10.1.2.3:4000", []string{"1.2.3.4", "203.0.113.9"}, "203.0.113.9"},
		{"IPv6 proxy", "[2001:db8::1]:4000", []string{"2001:db8:1::5, 203.0.113.9"}, "203.0.113.9"},
		{"malformed entry", "10.1.2.3:4000", []string{"203.0.113.9, junk"}, "10.1.2.3"},
		{"no header", "10.1.2.3:4000", nil, "10.1.2.3"},
		{"only proxies", "10.1.2.3:4000", []string{"10.4.4.4"}, "10.1.2.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/signin/begin", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientIP(r, trusted); got != tc.want {
				t.Errorf("clientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

// memLimiter counts in memory, for tests that need no store.
type memLimiter struct {
	mu sync.Mutex
	n  map[string]int
}

func (m *memLimiter) Hit(_ context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n[key]++
	return m.n[key], now.Add(window), nil
}

// FuzzLimitPages feeds arbitrary sign-in bodies to the pages' limiter: no
// panic, and the page behind it gets the body unchanged or a 429.
func FuzzLimitPages(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", []byte("username=omar&password=x&totp=123456"))
	f.Add("application/json", []byte(`{"ceremony_id":"c","credential":{"response":{"userHandle":"dXNlcg"}}}`))
	f.Add("", []byte(`{"credential":[]}`))
	f.Add("multipart/form-data; boundary=x", []byte("--x--"))
	now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		var seen []byte
		page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen, _ = io.ReadAll(r.Body) })
		h := LimitPages(page, &memLimiter{n: map[string]int{}}, RateLimits{PerIP: 1}, func() time.Time { return now }, "/centre/signin")
		req := httptest.NewRequest("POST", "/centre/signin", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch {
		case len(body) > maxLimitedBody:
			if rec.Code != 413 {
				t.Fatalf("%d-byte body: %d", len(body), rec.Code)
			}
		case rec.Code != 200 || !bytes.Equal(seen, body):
			t.Fatalf("first attempt: %d, page saw %d of %d bytes", rec.Code, len(seen), len(body))
		}
	})
}
