package web

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
	"github.com/thiqa/thiqa/web/internal/ui"
)

var testNow = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

const testPassword = "correct horse battery"

// env is a registration authority on a throwaway store with the pages
// in front of it.
type env struct {
	srv  *Server
	svc  *enrollment.Service
	sign *signing.Service
	now  time.Time
	totp map[string]string
	pki  *testpki.PKI
}

func newEnv(t testing.TB) *env {
	t.Helper()
	keys, st := testenv.Keys(t), testenv.Bolt(t)
	e := &env{now: testNow, totp: map[string]string{}}
	clock := func() time.Time { return e.now }
	authority := testenv.CA(t, keys, st, ca.Options{Clock: clock})
	var err error
	e.svc, err = enrollment.New(st, keys, authority, enrollment.Options{Clock: clock, Argon2: enrollment.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	e.pki = testpki.New(t, nil)
	v := &validate.Validator{Options: validate.Options{TrustAnchors: []*x509.Certificate{e.pki.Root}, Time: e.pki.Now.Add(time.Hour)}}
	e.sign, err = signing.New(st, e.svc, signing.CATrust(authority), signing.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	e.srv, err = New(Deps{Enrollment: e.svc, Verifier: v, Agencies: e.sign, Registry: e.sign}, Options{Clock: clock, MaxUpload: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []store.Centre{{Code: "AMM-01", NameAr: "عمان ١", NameEn: "Amman 1", Governorate: "Amman"},
		{Code: "IRB-01", NameAr: "إربد ١", NameEn: "Irbid 1", Governorate: "Irbid"}} {
		if _, err := e.svc.CreateCentre(ctx, enrollment.Operator("test"), c); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// officer creates an officer account at centre.
func (e *env) officer(t testing.TB, user, role, centre string) {
	t.Helper()
	enr, err := e.svc.CreateOfficer(context.Background(), enrollment.Operator("test"),
		enrollment.NewOfficer{Username: user, Role: role, Centre: centre, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(enr.TOTPURL)
	e.totp[user] = u.Query().Get("secret")
}

// code returns the officer's current TOTP code, moving the clock on by
// one step first so that no code is used twice.
func (e *env) code(t testing.TB, user string) string {
	t.Helper()
	e.now = e.now.Add(30 * time.Second)
	c, err := totp.GenerateCodeCustom(e.totp[user], e.now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// browser is a cookie-keeping client of the pages.
type browser struct {
	e       *env
	cookies map[string]string
	lang    string
}

func (e *env) browser() *browser { return &browser{e: e, cookies: map[string]string{}} }

func (b *browser) do(t testing.TB, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	req.Host = "example.test"
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	if b.lang != "" {
		req.AddCookie(&http.Cookie{Name: ui.LangCookie, Value: b.lang})
	}
	rec := httptest.NewRecorder()
	b.e.srv.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return rec
}

func (b *browser) get(t testing.TB, path string) *httptest.ResponseRecorder {
	t.Helper()
	return b.do(t, httptest.NewRequest(http.MethodGet, path, nil))
}

// csrf returns the browser's CSRF token, opening a page first when it has
// none.
func (b *browser) csrf(t testing.TB) string {
	t.Helper()
	if b.cookies[ui.CSRFCookie] == "" {
		b.get(t, "/verify/")
	}
	return b.cookies[ui.CSRFCookie]
}

// post sends a form with the browser's CSRF token.
func (b *browser) post(t testing.TB, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	if _, ok := f[ui.CSRFField]; !ok {
		f.Set(ui.CSRFField, b.csrf(t))
	}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, req)
}

// signIn signs the officer in through the form at section ("centre" or
// "admin").
func (b *browser) signIn(t testing.TB, section, user string) *httptest.ResponseRecorder {
	t.Helper()
	return b.post(t, "/"+section+"/signin", url.Values{"username": {user}, "password": {testPassword}, "totp": {b.e.code(t, user)}})
}

// signedIn returns a browser with the officer signed in at the centre
// console.
func (e *env) signedIn(t testing.TB, user string) *browser {
	t.Helper()
	b := e.browser()
	if rec := b.signIn(t, "centre", user); rec.Code != http.StatusSeeOther {
		t.Fatalf("sign in %s: %d %s", user, rec.Code, rec.Body)
	}
	return b
}

// proofing is a valid enrolment form.
func proofing(nid string) url.Values {
	return url.Values{"national_id": {nid}, "given_name": {"Omar"}, "surname": {"Nasser"}, "given_name_ar": {"عمر"},
		"surname_ar": {"ناصر"}, "date_of_birth": {"1990-05-21"}, "doc_type": {"national-id-card"}, "doc_number": {"AB123456"},
		"doc_expiry": {"2030-01-01"}, "doc_check": {"pass"}, "face_match": {"pass"}}
}

// pkiRevocation hands the signer the PKI's revocation data for B-LT.
type pkiRevocation struct{ p *testpki.PKI }

func (r pkiRevocation) Revocation(ctx context.Context, cert, issuer *x509.Certificate) (*signer.Revocation, error) {
	if issuer.Equal(r.p.CA) {
		o, err := r.p.OCSPResponse(cert)
		return &signer.Revocation{OCSP: [][]byte{o}, Certs: []*x509.Certificate{r.p.OCSPResponder}}, err
	}
	c, err := r.p.CRL(issuer)
	return &signer.Revocation{CRLs: [][]byte{c}}, err
}

// signedPDF signs makePDF at level B-LT with the PKI's signer.
func signedPDF(t testing.TB, p *testpki.PKI) []byte {
	t.Helper()
	in := testenv.OnePagePDF("Thiqa test document: pay 100 JOD", 0)
	var out bytes.Buffer
	o := &signer.Options{Certificate: p.Signer, Chain: p.Chain(), Level: signer.LevelBLT, Time: p.Now,
		Timestamper: signer.TimestamperFunc(p.Authority.Token), Revocation: pkiRevocation{p}, Reason: "Approval", Location: "Amman"}
	if err := signer.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, crypto.Signer(p.SignerKey), o); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

var (
	startxrefRE = regexp.MustCompile(`startxref\s+(\d+)`)
	sizeRE      = regexp.MustCompile(`/Size (\d+)`)
)

// tamper appends an incremental update that replaces the page's content
// stream (object 5) with other text: a change after signing.
func tamper(t testing.TB, signed []byte) []byte {
	t.Helper()
	xs := startxrefRE.FindAllSubmatch(signed, -1)
	ss := sizeRE.FindAllSubmatch(signed, -1)
	if len(xs) == 0 || len(ss) == 0 {
		t.Fatal("tamper: no startxref or /Size")
	}
	prev, _ := strconv.Atoi(string(xs[len(xs)-1][1]))
	size, _ := strconv.Atoi(string(ss[len(ss)-1][1]))
	out := append([]byte(nil), signed...)
	content := "BT /F1 12 Tf 72 720 Td (Thiqa test document: pay 900 JOD) Tj ET\n"
	off := len(out)
	out = fmt.Appendf(out, "%d 0 obj\n<</Length %d>>\nstream\n%s\nendstream\nendobj\n", testenv.ContentObject, len(content), content)
	start := len(out)
	out = fmt.Appendf(out, "xref\n%d 1\n%010d 00000 n \ntrailer\n<</Size %d /Root 1 0 R /Prev %d>>\nstartxref\n%d\n%%%%EOF\n", testenv.ContentObject, off, size, prev, start)
	return out
}

// activate enrols nid at AMM-01 and activates it with a virtual passkey,
// in process, as the citizen's app would; it returns nid.
func activate(t testing.TB, e *env, nid string) string {
	t.Helper()
	activatePhone(t, e, nid)
	return nid
}

// activatePhone is activate, returning the passkey.
func activatePhone(t testing.TB, e *env, nid string) *testenv.Phone {
	t.Helper()
	by := enrollment.Principal{Kind: enrollment.KindOfficer, Username: "enroller", Role: store.RoleOfficer, Centre: "AMM-01"}
	p := proofing(nid)
	return testenv.Activate(t, e.svc, by, enrollment.Proofing{NationalID: nid, GivenName: p.Get("given_name"), Surname: p.Get("surname"),
		GivenNameAr: p.Get("given_name_ar"), SurnameAr: p.Get("surname_ar"), DateOfBirth: p.Get("date_of_birth"), DocType: p.Get("doc_type"),
		DocNumber: p.Get("doc_number"), DocExpiry: p.Get("doc_expiry"), DocCheck: "pass", FaceMatch: "pass"})
}
