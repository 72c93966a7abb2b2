package oidc

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/store"
)

var ctx = context.Background()

// clock is the tests' clock: pinned at the start, moved by advance.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	st    *store.Bolt
	keys  *hsm.Software
	enr   *enrollment.Service
	log   *audit.Log
	audit *recorder
	clock *clock
	p     *Provider
	srv   *httptest.Server
	// handler is what srv answers with (swapped on key rotation).
	handler atomic.Pointer[http.Handler]
	rp      virtualwebauthn.RelyingParty
}

const redirect = "http://127.0.0.1:9/cb"

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	kek := make([]byte, hsm.KEKSize)
	rand.Read(kek)
	keys, err := hsm.OpenSoftware(filepath.Join(dir, "keys"), kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenBolt(filepath.Join(dir, "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// The ID tokens' times come from the library's wall clock, so the
	// tests' clock starts at the wall clock and is then pinned.
	e := &env{st: st, keys: keys, clock: &clock{t: time.Now().Truncate(time.Second)}}
	authority, err := ca.Init(ctx, ca.DefaultConfig(), keys, st, ca.Options{Clock: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	ak, err := keys.GenerateKey(ctx, "audit-log", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	if e.log, err = audit.New(st, ak, audit.Options{Clock: e.clock.now}); err != nil {
		t.Fatal(err)
	}
	e.audit = &recorder{next: e.log}
	e.rp = virtualwebauthn.RelyingParty{ID: "localhost", Name: "Thiqa", Origin: "http://localhost:8080"}
	e.enr, err = enrollment.New(st, keys, authority, enrollment.Options{Clock: e.clock.now, Argon2: enrollment.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*e.handler.Load()).ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	e.serve(e.provider(t))
	return e
}

// serve makes p the provider the test server answers with.
func (e *env) serve(p *Provider) {
	e.p = p
	var h http.Handler = http.StripPrefix("/oidc", p.Handler())
	e.handler.Store(&h)
}

func (e *env) provider(t testing.TB) *Provider {
	t.Helper()
	p, err := New(ctx, e.srv.URL+"/oidc", Deps{Citizens: e.enr, Clients: e.st, Keys: e.keys, Audit: e.audit, State: e.st}, Options{Clock: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// phone is a citizen's virtual authenticator with one passkey.
type phone struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

// citizen enrols and activates a citizen, returning their phone.
func (e *env) citizen(t testing.TB, nid string) *phone {
	t.Helper()
	op := enrollment.Operator("test")
	if _, err := e.enr.Centres(ctx); err == nil {
		e.enr.CreateCentre(ctx, op, store.Centre{Code: "AMM-01", NameAr: "مركز", NameEn: "Centre", Governorate: "Amman"})
	}
	user := "omar" + nid[len(nid)-2:]
	oe, err := e.enr.CreateOfficer(ctx, op, enrollment.NewOfficer{Username: user, Role: store.RoleOfficer, Centre: "AMM-01", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(oe.TOTPURL)
	code, err := totp.GenerateCodeCustom(u.Query().Get("secret"), e.clock.now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	_, off, err := e.enr.OfficerSignIn(ctx, user, "correct horse battery", code)
	if err != nil {
		t.Fatal(err)
	}
	enr, err := e.enr.Enrol(ctx, off, enrollment.Proofing{NationalID: nid, GivenName: "Layla", Surname: "Haddad", GivenNameAr: "ليلى", SurnameAr: "حداد",
		DateOfBirth: "1990-04-12", DocType: "national-id-card", DocNumber: "ab123456", DocExpiry: "2030-01-01", DocCheck: "pass", FaceMatch: "pass"})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := e.enr.BeginActivation(ctx, nid, enr.Code.Code)
	if err != nil {
		t.Fatal(err)
	}
	ao, err := virtualwebauthn.ParseAttestationOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	p := &phone{auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(ao.UserID), BackupEligible: true, BackupState: true}), cred: newCredential(t)}
	resp := virtualwebauthn.CreateAttestationResponse(e.rp, p.auth, p.cred, *ao)
	p.auth.AddCredential(p.cred)
	if _, err := e.enr.FinishActivation(ctx, ch.CeremonyID, "my phone", []byte(resp)); err != nil {
		t.Fatal(err)
	}
	return p
}

// newCredential draws a P-256 key whose coordinates are full length
// (virtualwebauthn drops leading zeros, which WebAuthn rightly refuses).
func newCredential(t testing.TB) virtualwebauthn.Credential {
	t.Helper()
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.X.Bytes()) != 32 || len(k.Y.Bytes()) != 32 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

// register registers an agency's portal.
func (e *env) register(t testing.TB, name string, scopes ...string) (store.OIDCClient, string) {
	t.Helper()
	c, secret, err := Register(ctx, e.st, Registration{NameAr: "وزارة " + name, NameEn: "Ministry of " + name, RedirectURIs: []string{redirect}, Scopes: scopes}, nil, e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	return c, secret
}

// browser is a citizen's browser: a cookie jar that stops at the relying
// party's redirect URI.
func browser(t testing.TB) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), redirect) || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// authorize runs the browser part of the flow from authURL and returns the
// final redirect to the relying party.
func (e *env) authorize(t testing.TB, b *http.Client, ph *phone, authURL string) *url.URL {
	t.Helper()
	id := e.authorizeUntilConsent(t, b, ph, authURL)
	resp, err := b.PostForm(e.srv.URL+"/oidc/consent", url.Values{"id": {id}, "decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("consent: %s, no redirect: %v", resp.Status, err)
	}
	return loc
}

// authorizeUntilConsent signs in with the passkey, checks the consent
// page and returns the request ID.
func (e *env) authorizeUntilConsent(t testing.TB, b *http.Client, ph *phone, authURL string) string {
	t.Helper()
	resp, err := b.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasSuffix(resp.Request.URL.Path, "/oidc/login") {
		t.Fatalf("authorize: %s at %s, want the login page", resp.Status, resp.Request.URL)
	}
	id := resp.Request.URL.Query().Get("id")
	var ch enrollment.Challenge
	e.postJSON(t, b, "/oidc/login/begin", map[string]string{"id": id}, &ch)
	ao, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	ph.cred.Counter++
	assertion := virtualwebauthn.CreateAssertionResponse(e.rp, ph.auth, ph.cred, *ao)
	var next struct{ Next string }
	e.postJSON(t, b, "/oidc/login/finish", map[string]any{"id": id, "ceremony_id": ch.CeremonyID, "credential": json.RawMessage(assertion)}, &next)
	resp, err = b.Get(e.srv.URL + "/oidc/" + next.Next)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte("وزارة")) {
		t.Fatalf("consent page: %s %s", resp.Status, page)
	}
	return id
}

func (e *env) postJSON(t testing.TB, b *http.Client, path string, in, out any) {
	t.Helper()
	body, _ := json.Marshal(in)
	resp, err := b.Post(e.srv.URL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s %s", path, resp.Status, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
}

// recorder keeps the actions appended to the audit log.
type recorder struct {
	mu      sync.Mutex
	next    Auditor
	actions []string
}

func (r *recorder) Append(ctx context.Context, ev audit.Event) (audit.Receipt, error) {
	r.mu.Lock()
	r.actions = append(r.actions, ev.Action)
	r.mu.Unlock()
	return r.next.Append(ctx, ev)
}
