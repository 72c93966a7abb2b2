package api

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// wantCSCError checks that err is a CSC error object with status and a
// description holding what.
func wantCSCError(t *testing.T, err error, status int, what string) {
	t.Helper()
	var ce *cscStatusError
	if !errors.As(err, &ce) || ce.Status != status || !strings.Contains(ce.Description, what) {
		t.Fatalf("error %v, want a CSC error %d mentioning %q", err, status, what)
	}
}

// TestCSCLifetimes: a SAD is delivered once and lives 5 minutes;
// extendTransaction cannot stretch it past the authorization's lifetime;
// an authorization the citizen neither approves nor rejects expires; a
// rejected one gives no SAD. In each case signHash gives no signature.
func TestCSCLifetimes(t *testing.T) {
	e := newSignEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	ph, tok := e.citizen(t, off, "9861234567")
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	c := &cscClient{base: ts.URL, token: tok, http: ts.Client()}
	ids, err := c.list()
	if err != nil || len(ids) != 1 {
		t.Fatalf("list %v: %v", ids, err)
	}
	cred := ids[0]
	// advance moves the clock and signs the citizen in again: a citizen's
	// session lasts 15 minutes, as long as this test's longest wait.
	advance := func(t *testing.T, d time.Duration) {
		t.Helper()
		*e.now = e.now.Add(d)
		rec, s := e.signIn(t, ph)
		if rec.Code != 200 {
			t.Fatalf("sign in: %d %s", rec.Code, rec.Body)
		}
		tok, c.token = s.Token, s.Token
	}
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	approved := func(t *testing.T, h []byte) (string, string) {
		t.Helper()
		authID, err := c.authorize(cred, [][]byte{h}, false)
		if err != nil {
			t.Fatal(err)
		}
		e.approveCSC(t, ph, tok, authID)
		sad, err := c.authorizeCheck(cred, authID)
		if err != nil || sad == "" {
			t.Fatalf("check after approval: %q %v", sad, err)
		}
		return authID, sad
	}

	t.Run("SAD delivered once and expires after 5 minutes", func(t *testing.T) {
		h := hash("expires")
		authID, sad := approved(t, h)
		if again, err := c.authorizeCheck(cred, authID); again != "" {
			t.Fatalf("SAD delivered twice: %q", again)
		} else {
			wantCSCError(t, err, http.StatusBadRequest, "already delivered")
		}
		advance(t, 5*time.Minute)
		sigs, err := c.signHash(cred, sad, [][]byte{h}, false)
		if sigs != nil {
			t.Fatalf("%d signatures with an expired SAD", len(sigs))
		}
		wantCSCError(t, err, http.StatusBadRequest, "expired")
		_, err = c.extend(cred, sad)
		wantCSCError(t, err, http.StatusBadRequest, "expired")
	})

	t.Run("extendTransaction stops at the authorization's lifetime", func(t *testing.T) {
		h := hash("extended")
		_, sad := approved(t, h)
		// Created at t0: the SAD lives until t0+15 min at most (10 min of
		// authorization and 5 of SAD), however often it is extended.
		for _, want := range []int{300, 300, 180} {
			advance(t, 4*time.Minute)
			var out struct {
				SAD       string `json:"SAD"`
				ExpiresIn int    `json:"expiresIn"`
			}
			if _, err := c.call("credentials/extendTransaction", map[string]any{"credentialID": cred, "SAD": sad}, &out); err != nil || out.SAD == "" || out.SAD == sad {
				t.Fatalf("extend: %+v %v", out, err)
			}
			if _, err := c.signHash(cred, sad, [][]byte{h}, false); err == nil {
				t.Fatal("the replaced SAD still signs")
			}
			sad = out.SAD
			if out.ExpiresIn != want {
				t.Fatalf("expiresIn %d, want %d", out.ExpiresIn, want)
			}
		}
		// At t0+12 min the last extension ran to t0+15 min, not t0+17.
		advance(t, 3*time.Minute)
		sigs, err := c.signHash(cred, sad, [][]byte{h}, false)
		if sigs != nil {
			t.Fatalf("%d signatures past the authorization's lifetime", len(sigs))
		}
		wantCSCError(t, err, http.StatusBadRequest, "expired")
	})

	t.Run("unapproved authorization expires after 10 minutes", func(t *testing.T) {
		authID, err := c.authorize(cred, [][]byte{hash("forgotten")}, false)
		if err != nil {
			t.Fatal(err)
		}
		advance(t, 10*time.Minute)
		if sad, err := c.authorizeCheck(cred, authID); sad != "" {
			t.Fatalf("SAD of an expired authorization: %q", sad)
		} else {
			wantCSCError(t, err, http.StatusGone, "expired")
		}
		if rec := e.call(t, "POST", "/api/v1/csc-authorizations/"+authID+"/approval/begin", tok, nil, nil); rec.Code != http.StatusGone {
			t.Fatalf("approval of an expired authorization: %d %s, want 410", rec.Code, rec.Body)
		}
	})

	t.Run("rejected authorization gives no SAD", func(t *testing.T) {
		authID, err := c.authorize(cred, [][]byte{hash("refused")}, false)
		if err != nil {
			t.Fatal(err)
		}
		if rec := e.call(t, "POST", "/api/v1/csc-authorizations/"+authID+"/reject", tok, nil, nil); rec.Code != 200 {
			t.Fatalf("reject: %d %s", rec.Code, rec.Body)
		}
		if sad, err := c.authorizeCheck(cred, authID); sad != "" {
			t.Fatalf("SAD of a rejected authorization: %q", sad)
		} else {
			wantCSCError(t, err, http.StatusConflict, "refused")
		}
		if rec := e.call(t, "POST", "/api/v1/csc-authorizations/"+authID+"/approval/begin", tok, nil, nil); rec.Code != http.StatusConflict {
			t.Fatalf("approval of a rejected authorization: %d %s, want 409", rec.Code, rec.Body)
		}
	})
	// Only the two approved authorizations made the key sign, once each.
	if n := e.signs.Load(); n != 2 {
		t.Errorf("the citizen's key signed %d times, want 2", n)
	}
}

// TestCSCTimestamp: signatures/timestamp answers an RFC 3161 token from
// Thiqa's TSU over exactly the hash sent, with the v2 and v1 member names,
// to a citizen and to an agency; a hash that is not SHA-256 and an
// anonymous caller are refused.
func TestCSCTimestamp(t *testing.T) {
	e := newSignEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	_, tok := e.citizen(t, off, "9861234567")
	ag := e.agency(t, "Land Department", signing.ScopeVerify)
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	h := sha256.Sum256([]byte("a document"))
	const sha256OID = "2.16.840.1.101.3.4.2.1"
	tsu := e.ca.TSA().Certificate()
	for _, tc := range []struct {
		name, token string
		req         map[string]any
	}{
		{"citizen, v2", tok, map[string]any{"hash": base64.StdEncoding.EncodeToString(h[:]), "hashAlgorithmOID": sha256OID}},
		{"agency, v1", ag.Key, map[string]any{"hash": base64.StdEncoding.EncodeToString(h[:]), "hashAlgo": sha256OID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cscClient{base: ts.URL, token: tc.token, http: ts.Client()}
			var out struct {
				Timestamp string `json:"timestamp"`
			}
			if _, err := c.call("signatures/timestamp", tc.req, &out); err != nil {
				t.Fatal(err)
			}
			der, err := base64.StdEncoding.DecodeString(out.Timestamp)
			if err != nil {
				t.Fatal(err)
			}
			tst, err := timestamp.Parse(der) // verifies the token's signature
			if err != nil {
				t.Fatalf("token: %v", err)
			}
			if tst.HashAlgorithm != crypto.SHA256 || !bytes.Equal(tst.HashedMessage, h[:]) {
				t.Errorf("imprint %v %x, want SHA-256 %x", tst.HashAlgorithm, tst.HashedMessage, h)
			}
			if d := tst.Time.Sub(*e.now); d < -time.Second || d > time.Second {
				t.Errorf("genTime %v, want %v", tst.Time, *e.now)
			}
			var signedBy bool
			for _, cert := range tst.Certificates {
				signedBy = signedBy || cert.Equal(tsu)
			}
			if !signedBy {
				t.Error("the token does not carry Thiqa's TSU certificate")
			}
		})
	}
	for _, tc := range []struct {
		name, token string
		req         map[string]any
		status      int
	}{
		{"SHA-1", tok, map[string]any{"hash": base64.StdEncoding.EncodeToString(h[:20]), "hashAlgorithmOID": "1.3.14.3.2.26"}, 400},
		{"short hash", tok, map[string]any{"hash": base64.StdEncoding.EncodeToString(h[:20]), "hashAlgorithmOID": sha256OID}, 400},
		{"not base64", tok, map[string]any{"hash": "%%%", "hashAlgorithmOID": sha256OID}, 400},
		{"anonymous", "", map[string]any{"hash": base64.StdEncoding.EncodeToString(h[:]), "hashAlgorithmOID": sha256OID}, 401},
		{"officer", off, map[string]any{"hash": base64.StdEncoding.EncodeToString(h[:]), "hashAlgorithmOID": sha256OID}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cscClient{base: ts.URL, token: tc.token, http: ts.Client()}
			var out struct {
				Timestamp string `json:"timestamp"`
			}
			status, err := c.call("signatures/timestamp", tc.req, &out)
			if status != tc.status || err == nil || out.Timestamp != "" {
				t.Errorf("%d %v %q, want %d", status, err, out.Timestamp, tc.status)
			}
			// A CSC error object, also when the credentials are refused.
			want := map[int]string{400: "invalid_request", 401: "invalid_token", 403: "access_denied"}[tc.status]
			if ce, ok := err.(*cscStatusError); !ok || ce.Code != want {
				t.Errorf("error %v, want a CSC error object %q", err, want)
			}
		})
	}
	if n := e.signs.Load(); n != 0 {
		t.Errorf("the citizen's key signed %d hashes for time-stamps", n)
	}
}
