package oidc

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/thiqa/thiqa/store"
)

// countingState counts the authorization requests stored.
type countingState struct {
	State
	requests atomic.Int64
}

func (s *countingState) InsertOIDC(ctx context.Context, e store.OIDCEntry, now time.Time) error {
	if e.Kind == store.OIDCAuthRequest {
		s.requests.Add(1)
	}
	return s.State.InsertOIDC(ctx, e, now)
}

// limitedEnv serves a provider with limits counted by lim (nil: the
// store's counters); the client's address is the X-Test-Addr header, so
// one test stands for several addresses.
func limitedEnv(t *testing.T, lim Limiter, perIP, perClient int) (*env, *countingState) {
	t.Helper()
	e := newEnv(t)
	if lim == nil {
		lim = e.st
	}
	st := &countingState{State: e.st}
	p, err := New(ctx, e.srv.URL+"/oidc", Deps{Citizens: e.enr, Clients: e.st, Keys: e.keys, Audit: e.audit, State: st},
		Options{Clock: e.clock.now, Limits: Limits{Limiter: lim, PerIP: perIP, PerClient: perClient,
			ClientIP: func(r *http.Request) string { return r.Header.Get("X-Test-Addr") }}})
	if err != nil {
		t.Fatal(err)
	}
	e.serve(p)
	return e, st
}

// get requests u from addr without following redirects.
func get(t *testing.T, u, addr string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("X-Test-Addr", addr)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// TestAuthorizeLimitPerAddress: an address that calls /authorize more
// than PerIP times in a window gets a 429 page with Retry-After, no
// redirect (not even to a registered URI) and nothing stored, whether the
// request names a real client or not; other addresses are served, and the
// address is served again in the next window.
func TestAuthorizeLimitPerAddress(t *testing.T) {
	e, st := limitedEnv(t, nil, 3, 0)
	c, secret := e.register(t, "Justice")
	authURL := e.party(t, c.ID, secret).cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	for i := range 3 {
		resp, _ := get(t, authURL, "192.0.2.7")
		if loc, _ := resp.Location(); resp.StatusCode != http.StatusFound || loc == nil || !strings.HasSuffix(loc.Path, "/login") {
			t.Fatalf("authorize %d: %s to %v, want the login page", i, resp.Status, loc)
		}
	}
	if n := st.requests.Load(); n != 3 {
		t.Fatalf("%d requests stored, want 3", n)
	}
	for _, u := range []string{authURL, e.srv.URL + "/oidc/authorize?client_id=nobody&redirect_uri=" + url.QueryEscape(redirect)} {
		resp, body := get(t, u, "192.0.2.7")
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Location") != "" {
			t.Fatalf("over the limit: %s, Location %q, want 429 without redirect", resp.Status, resp.Header.Get("Location"))
		}
		if ra := resp.Header.Get("Retry-After"); ra != "600" {
			t.Errorf("Retry-After %q, want 600", ra)
		}
		if !strings.Contains(body, "try again in 600 s") || !strings.Contains(body, "حاول") {
			t.Errorf("page says %q", body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("429 page policy %q", csp)
		}
	}
	if n := st.requests.Load(); n != 3 {
		t.Fatalf("%d requests stored after refusals, want 3", n)
	}
	if resp, _ := get(t, authURL, "198.51.100.9"); resp.StatusCode != http.StatusFound {
		t.Fatalf("another address: %s", resp.Status)
	}
	e.clock.advance(10*time.Minute + time.Second)
	if resp, _ := get(t, authURL, "192.0.2.7"); resp.StatusCode != http.StatusFound {
		t.Fatalf("next window: %s", resp.Status)
	}
}

// TestAuthorizeLimitPerClient: past PerClient new requests for one client
// within the request lifetime, its authorization requests are refused
// with temporarily_unavailable at its verified redirect URI (with the
// state), a wrong redirect URI still gets the error page, another client
// is served, and after the window the client is served again.
func TestAuthorizeLimitPerClient(t *testing.T) {
	e, st := limitedEnv(t, nil, 0, 2)
	c, secret := e.register(t, "Justice")
	other, otherSecret := e.register(t, "Health")
	justice, health := e.party(t, c.ID, secret), e.party(t, other.ID, otherSecret)
	authURL := func(r *rp) string {
		return r.cfg.AuthCodeURL("xyz", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	}
	for i := range 2 {
		if resp, _ := get(t, authURL(justice), "192.0.2.1"); resp.StatusCode != http.StatusFound {
			t.Fatalf("authorize %d: %s", i, resp.Status)
		}
	}
	resp, _ := get(t, authURL(justice), "192.0.2.2")
	loc, _ := resp.Location()
	if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), redirect) ||
		loc.Query().Get("error") != "temporarily_unavailable" || loc.Query().Get("state") != "xyz" {
		t.Fatalf("over the client's limit: %s to %v, want temporarily_unavailable at the redirect URI", resp.Status, loc)
	}
	if n := st.requests.Load(); n != 2 {
		t.Fatalf("%d requests stored, want 2", n)
	}
	bad := strings.Replace(authURL(justice), url.QueryEscape(redirect), url.QueryEscape("https://evil.example/cb"), 1)
	if resp, _ := get(t, bad, "192.0.2.2"); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("wrong redirect URI over the limit: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	if resp, _ := get(t, authURL(health), "192.0.2.2"); resp.StatusCode != http.StatusFound || strings.Contains(resp.Header.Get("Location"), "error=") {
		t.Fatalf("another client: %s to %s", resp.Status, resp.Header.Get("Location"))
	}
	e.clock.advance(e.p.opts.RequestTTL + time.Second)
	if resp, _ := get(t, authURL(justice), "192.0.2.2"); resp.StatusCode != http.StatusFound || strings.Contains(resp.Header.Get("Location"), "error=") {
		t.Fatalf("next window: %s to %s", resp.Status, resp.Header.Get("Location"))
	}
}

// brokenLimiter cannot count.
type brokenLimiter struct{}

func (brokenLimiter) Hit(context.Context, string, time.Time, time.Duration) (int, time.Time, error) {
	return 0, time.Time{}, errors.New("database unreachable")
}

// TestLimitsFailClosed: when the store cannot count, /authorize and
// /login/begin answer 503 and store nothing, and the store's error is not
// shown.
func TestLimitsFailClosed(t *testing.T) {
	e, st := limitedEnv(t, brokenLimiter{}, 0, 0)
	c, secret := e.register(t, "Justice")
	resp, body := get(t, e.party(t, c.ID, secret).cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "192.0.2.1")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Location") != "" || strings.Contains(body, "database") {
		t.Fatalf("authorize: %s %q", resp.Status, body)
	}
	if n := st.requests.Load(); n != 0 {
		t.Fatalf("%d requests stored", n)
	}
	r, err := http.Post(e.srv.URL+"/oidc/login/begin", "application/json", strings.NewReader(`{"id":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("login/begin: %s", r.Status)
	}
}

// TestLoginBeginLimitPerAddress: passkey ceremonies begun from one
// address are limited like authorization requests.
func TestLoginBeginLimitPerAddress(t *testing.T) {
	e, _ := limitedEnv(t, nil, 2, 0)
	c, secret := e.register(t, "Justice")
	resp, _ := get(t, e.party(t, c.ID, secret).cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "192.0.2.1")
	loc, _ := resp.Location()
	if loc == nil {
		t.Fatalf("authorize: %s", resp.Status)
	}
	id := loc.Query().Get("id")
	for i, want := range []int{200, 200, 429} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oidc/login/begin", strings.NewReader(`{"id":"`+id+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Test-Addr", "192.0.2.1")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != want {
			t.Fatalf("begin %d: %s, want %d", i, r.Status, want)
		}
	}
}

// TestLoginFinishLimitPerIdentity: passkey sign-ins with one identity's
// passkeys are limited whatever the address, on the counter the API's
// citizen sign-in uses; another identity is not.
func TestLoginFinishLimitPerIdentity(t *testing.T) {
	e, _ := limitedEnv(t, nil, 0, 0)
	e.p.opts.Limits.PerIdentity = 2
	c, secret := e.register(t, "Justice")
	resp, _ := get(t, e.party(t, c.ID, secret).cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "192.0.2.1")
	loc, _ := resp.Location()
	if loc == nil {
		t.Fatalf("authorize: %s", resp.Status)
	}
	id := loc.Query().Get("id")
	finish := func(handle, addr string) int {
		t.Helper()
		body := `{"id":"` + id + `","ceremony_id":"x","credential":{"type":"public-key","response":{"userHandle":"` + handle + `"}}}`
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oidc/login/finish", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Test-Addr", addr)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	got := []int{finish("aWQx", "192.0.2.1"), finish("aWQx", "192.0.2.2"), finish("aWQx", "192.0.2.3"), finish("aWQy", "192.0.2.3")}
	if want := []int{401, 401, 429, 401}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("sign-ins: %v, want %v", got, want)
	}
	n, _, err := e.st.Hit(ctx, "signin/user:aWQx", e.clock.now(), 10*time.Minute)
	if err != nil || n != 4 {
		t.Fatalf("the API's counter for the identity: %d %v, want 4 (three here and this one)", n, err)
	}
}
