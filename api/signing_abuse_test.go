package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/thiqa/thiqa/internal/problem"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// abuseEnv has two citizens, two agencies and a helper to make requests.
type abuseEnv struct {
	*signEnv
	layla, omar       *testPhone
	laylaTok, omarTok string
	agA, agB          signing.AgencyKey
}

func newAbuseEnv(t *testing.T) *abuseEnv {
	t.Helper()
	e := &abuseEnv{signEnv: newSignEnv(t)}
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	e.layla, e.laylaTok = e.citizen(t, off, "9861234567")
	e.omar, e.omarTok = e.citizen(t, off, "9867654321")
	e.agA = e.agency(t, "Agency A", signing.ScopeSignRequests)
	e.agB = e.agency(t, "Agency B", signing.ScopeSignRequests)
	return e
}

// request makes a request of agency A for Layla with docs (default two
// corpus PDFs).
func (e *abuseEnv) request(t *testing.T, docs ...signing.NewDocument) signing.RequestView {
	t.Helper()
	if docs == nil {
		docs = threeDocuments(t)[:2]
	}
	var v signing.RequestView
	body := signing.NewRequest{NationalID: "9861234567", PurposeAr: "غرض", PurposeEn: "Purpose", Documents: docs}
	if rec := e.call(t, "POST", "/api/v1/sign-requests", e.agA.Key, body, &v); rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	return v
}

// finish sends an assertion for a ceremony.
func (e *abuseEnv) finish(t *testing.T, tok, id, ceremony, resp string) *httptest.ResponseRecorder {
	t.Helper()
	return e.call(t, "POST", "/api/v1/sign-requests/"+id+"/approval/finish", tok,
		map[string]any{"ceremony_id": ceremony, "credential": json.RawMessage(resp)}, nil)
}

func assertion(e *abuseEnv, ph *testPhone, opts *virtualwebauthn.AssertionOptions) string {
	ph.cred.Counter++
	return virtualwebauthn.CreateAssertionResponse(e.rp, ph.auth, ph.cred, *opts)
}

// wantProblem checks a refusal's status and problem type.
func wantProblem(t *testing.T, rec *httptest.ResponseRecorder, status int, slug string) {
	t.Helper()
	var p problem.Details
	json.Unmarshal(rec.Body.Bytes(), &p)
	if rec.Code != status || p.Type != problem.TypeBase+slug {
		t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, status, slug)
	}
}

// tamper flips a bit of the assertion's signature.
func tamper(t *testing.T, resp string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(resp), &m); err != nil {
		t.Fatal(err)
	}
	r := m["response"].(map[string]any)
	sig := []byte(r["signature"].(string))
	sig[10] ^= 'A' ^ 'B'
	if sig[10] == sig[11] {
		sig[10] = 'x'
	}
	r["signature"] = string(sig)
	b, _ := json.Marshal(m)
	return string(b)
}

func TestSigningAbuse(t *testing.T) {
	e := newAbuseEnv(t)
	for _, tc := range []struct {
		name   string
		run    func(t *testing.T) (*httptest.ResponseRecorder, string)
		status int
		slug   string
	}{
		{"tampered assertion", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			c, opts := e.begin(t, e.laylaTok, r.ID)
			return e.finish(t, e.laylaTok, r.ID, c.CeremonyID, tamper(t, assertion(e, e.layla, opts))), r.ID
		}, 401, "passkey-refused"},
		{"replayed assertion into a new ceremony", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			_, opts := e.begin(t, e.laylaTok, r.ID)
			old := assertion(e, e.layla, opts)
			c2, _ := e.begin(t, e.laylaTok, r.ID)
			return e.finish(t, e.laylaTok, r.ID, c2.CeremonyID, old), r.ID
		}, 401, "passkey-refused"},
		{"replayed assertion into its used ceremony", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			c, opts := e.begin(t, e.laylaTok, r.ID)
			resp := assertion(e, e.layla, opts)
			wantProblem(t, e.finish(t, e.laylaTok, r.ID, c.CeremonyID, tamper(t, resp)), 401, "passkey-refused")
			return e.finish(t, e.laylaTok, r.ID, c.CeremonyID, resp), r.ID
		}, 400, "unknown-ceremony"},
		{"assertion for another request", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r1, r2 := e.request(t), e.request(t)
			_, opts1 := e.begin(t, e.laylaTok, r1.ID)
			c2, _ := e.begin(t, e.laylaTok, r2.ID)
			return e.finish(t, e.laylaTok, r2.ID, c2.CeremonyID, assertion(e, e.layla, opts1)), r2.ID
		}, 401, "passkey-refused"},
		{"assertion by another citizen's passkey", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			c, opts := e.begin(t, e.laylaTok, r.ID)
			return e.finish(t, e.laylaTok, r.ID, c.CeremonyID, assertion(e, e.omar, opts)), r.ID
		}, 401, "passkey-refused"},
		{"another citizen finishes the approval", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			c, opts := e.begin(t, e.laylaTok, r.ID)
			return e.finish(t, e.omarTok, r.ID, c.CeremonyID, assertion(e, e.layla, opts)), r.ID
		}, 404, "not-found"},
		{"approved twice", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			c, opts := e.begin(t, e.laylaTok, r.ID)
			if rec := e.finish(t, e.laylaTok, r.ID, c.CeremonyID, assertion(e, e.layla, opts)); rec.Code != 200 {
				t.Fatalf("first approval: %d %s", rec.Code, rec.Body)
			}
			before := e.signs.Load()
			rec := e.call(t, "POST", "/api/v1/sign-requests/"+r.ID+"/approval/begin", e.laylaTok, nil, nil)
			if e.signs.Load() != before {
				t.Error("a second signature was made")
			}
			return rec, ""
		}, 409, "wrong-state"},
		{"documents swapped between prepare and approval", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			c, opts := e.begin(t, e.laylaTok, r.ID)
			other := testenv.CorpusPDF(t, "testfile17.pdf")
			if err := e.st.SigningUpdate(context.Background(), func(tx store.SigningTx) error {
				rec, err := tx.SignRequest(r.ID)
				if err != nil {
					return err
				}
				return tx.PutBlob(rec.Documents[0].Blob, other)
			}); err != nil {
				t.Fatal(err)
			}
			return e.finish(t, e.laylaTok, r.ID, c.CeremonyID, assertion(e, e.layla, opts)), r.ID
		}, 403, "approval-refused"},
		{"a PDF the signer refuses", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t, signing.NewDocument{Name: "broken.pdf", Content: []byte("%PDF-1.7\nthis is not a PDF at all\n%%EOF\n")})
			rec := e.call(t, "POST", "/api/v1/sign-requests/"+r.ID+"/approval/begin", e.laylaTok, nil, nil)
			var v signing.RequestView
			e.call(t, "GET", "/api/v1/sign-requests/"+r.ID, e.agA.Key, nil, &v)
			if v.State != store.SignFailed {
				t.Errorf("state %s, want failed", v.State)
			}
			return rec, r.ID
		}, 422, "document-refused"},
		{"rejected request", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			if rec := e.call(t, "POST", "/api/v1/sign-requests/"+r.ID+"/reject", e.laylaTok, map[string]string{"why": "not mine"}, nil); rec.Code != 200 {
				t.Fatalf("reject: %d %s", rec.Code, rec.Body)
			}
			return e.call(t, "POST", "/api/v1/sign-requests/"+r.ID+"/approval/begin", e.laylaTok, nil, nil), r.ID
		}, 409, "wrong-state"},
		{"finish with a stale ceremony", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			c1, opts1 := e.begin(t, e.laylaTok, r.ID)
			e.begin(t, e.laylaTok, r.ID)
			return e.finish(t, e.laylaTok, r.ID, c1.CeremonyID, assertion(e, e.layla, opts1)), r.ID
		}, 409, "wrong-state"},
		{"oversized body", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			small := New(Deps{Enrollment: e.svc, Signing: e.signing}, Options{MaxBody: 1 << 10})
			req := httptest.NewRequest("POST", "/api/v1/sign-requests", strings.NewReader(`{"purpose_en":"`+strings.Repeat("a", 4<<10)+`"}`))
			req.Header.Set("Authorization", "Bearer "+e.agA.Key)
			rec := httptest.NewRecorder()
			small.ServeHTTP(rec, req)
			return rec, ""
		}, 413, "too-large"},
		{"too many documents", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			docs := make([]signing.NewDocument, 6)
			for i := range docs {
				docs[i] = signing.NewDocument{Name: "d.pdf", Content: testenv.CorpusPDF(t, "testfile20.pdf")}
			}
			body := signing.NewRequest{NationalID: "9861234567", PurposeAr: "غرض", PurposeEn: "Purpose", Documents: docs}
			return e.call(t, "POST", "/api/v1/sign-requests", e.agA.Key, body, nil), ""
		}, 413, "too-large"},
		{"document over the size limit", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			big := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("0"), 3<<20)...)
			body := signing.NewRequest{NationalID: "9861234567", PurposeAr: "غرض", PurposeEn: "Purpose", Documents: []signing.NewDocument{{Name: "big.pdf", Content: big}}}
			return e.call(t, "POST", "/api/v1/sign-requests", e.agA.Key, body, nil), ""
		}, 413, "too-large"},
		{"agency reads another agency's results", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			return e.call(t, "GET", "/api/v1/sign-requests/"+r.ID+"/documents/0", e.agB.Key, nil, nil), r.ID
		}, 404, "not-found"},
		{"agency reads another agency's request", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			return e.call(t, "GET", "/api/v1/sign-requests/"+r.ID, e.agB.Key, nil, nil), r.ID
		}, 404, "not-found"},
		{"citizen reads another citizen's request", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			return e.call(t, "GET", "/api/v1/sign-requests/"+r.ID+"/documents/0", e.omarTok, nil, nil), r.ID
		}, 404, "not-found"},
		{"citizen begins another citizen's approval", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			return e.call(t, "POST", "/api/v1/sign-requests/"+r.ID+"/approval/begin", e.omarTok, nil, nil), r.ID
		}, 404, "not-found"},
		{"citizen asks another citizen to sign", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			body := signing.NewRequest{NationalID: "9861234567", PurposeAr: "غرض", PurposeEn: "Purpose", Documents: threeDocuments(t)[:1]}
			return e.call(t, "POST", "/api/v1/sign-requests", e.omarTok, body, nil), ""
		}, 403, "forbidden"},
		{"wrong API key", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			return e.call(t, "GET", "/api/v1/sign-requests/x", e.agA.Key+"x", nil, nil), ""
		}, 401, "unauthorized"},
		{"agency approves", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			return e.call(t, "POST", "/api/v1/sign-requests/"+r.ID+"/approval/begin", e.agA.Key, nil, nil), r.ID
		}, 403, "forbidden"},
		{"unsigned document fetched as signed", func(t *testing.T) (*httptest.ResponseRecorder, string) {
			r := e.request(t)
			return e.call(t, "GET", "/api/v1/sign-requests/"+r.ID+"/documents/0/signed", e.agA.Key, nil, nil), r.ID
		}, 409, "wrong-state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.signs.Load()
			rec, id := tc.run(t)
			wantProblem(t, rec, tc.status, tc.slug)
			if tc.name != "approved twice" && e.signs.Load() != before {
				t.Errorf("the citizen's key signed %d digests", e.signs.Load()-before)
			}
			if id != "" {
				if n := e.signedCount(t, id, 3); n != 0 {
					t.Errorf("%d signed documents or evidence records stored", n)
				}
			}
		})
	}
}

// TestSigningExpiry: an expired request and an expired approval sign
// nothing.
func TestSigningExpiry(t *testing.T) {
	for _, tc := range []struct {
		name    string
		advance time.Duration
		begin   bool // begin the approval before the clock moves
		status  int
	}{
		{"request expired", 8 * 24 * time.Hour, false, 410},
		{"approval expired", 6 * time.Minute, true, 410},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAbuseEnv(t)
			r := e.request(t)
			var c beginReply
			var opts *virtualwebauthn.AssertionOptions
			if tc.begin {
				c, opts = e.begin(t, e.laylaTok, r.ID)
			}
			*e.now = e.now.Add(tc.advance)
			_, tok := e.signIn(t, e.layla)
			var rec *httptest.ResponseRecorder
			if tc.begin {
				rec = e.finish(t, tok.Token, r.ID, c.CeremonyID, assertion(e, e.layla, opts))
			} else {
				rec = e.call(t, "POST", "/api/v1/sign-requests/"+r.ID+"/approval/begin", tok.Token, nil, nil)
			}
			wantProblem(t, rec, tc.status, "expired")
			if e.signs.Load() != 0 || e.signedCount(t, r.ID, 3) != 0 {
				t.Error("something was signed")
			}
		})
	}
}

// TestSigningIdempotency: the same request under the same key is created
// once; a different one under that key is refused.
func TestSigningIdempotency(t *testing.T) {
	e := newAbuseEnv(t)
	body := signing.NewRequest{NationalID: "9861234567", PurposeAr: "غرض", PurposeEn: "Purpose", Documents: threeDocuments(t)[:1]}
	send := func(b signing.NewRequest) (*httptest.ResponseRecorder, signing.RequestView) {
		raw, _ := json.Marshal(b)
		req := httptest.NewRequest("POST", "/api/v1/sign-requests", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+e.agA.Key)
		req.Header.Set("Idempotency-Key", "order-42")
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		var v signing.RequestView
		json.Unmarshal(rec.Body.Bytes(), &v)
		return rec, v
	}
	rec1, v1 := send(body)
	rec2, v2 := send(body)
	if rec1.Code != 201 || rec2.Code != 200 || v1.ID == "" || v1.ID != v2.ID {
		t.Fatalf("first %d %s, again %d %s", rec1.Code, v1.ID, rec2.Code, v2.ID)
	}
	body.PurposeEn = "Something else"
	rec3, _ := send(body)
	wantProblem(t, rec3, 409, "idempotency-conflict")
	// Another agency's key space is its own.
	var list []signing.RequestView
	e.call(t, "GET", "/api/v1/sign-requests", e.laylaTok, nil, &list)
	if len(list) != 1 {
		t.Errorf("%d requests listed, want 1", len(list))
	}
}

// TestAgencyMutualTLS: an agency registered with its e-seal certificate
// is recognised from a verified client certificate; another certificate,
// or an unverified one, is anonymous.
func TestAgencyMutualTLS(t *testing.T) {
	e := newSignEnv(t)
	mk := func(cn string) *x509.Certificate {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: testNow, NotAfter: testNow.Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	seal, other := mk("Ministry e-seal"), mk("Someone else")
	if _, err := e.signing.AddAgency(context.Background(), signing.NewAgency{Name: "Sealed", Scopes: []string{signing.ScopeSignRequests}, CertDER: seal.Raw}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		cert     *x509.Certificate
		verified bool
		status   int
	}{
		{"registered e-seal", seal, true, 404}, // let through: the request does not exist
		{"other certificate", other, true, 401},
		{"unverified chain", seal, false, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/v1/sign-requests/nope", nil)
			req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{tc.cert}}
			if tc.verified {
				req.TLS.VerifiedChains = [][]*x509.Certificate{{tc.cert}}
			}
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
		})
	}
}
