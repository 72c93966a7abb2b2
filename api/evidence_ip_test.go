package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// TestEvidenceClientIP: behind a trusted reverse proxy, the evidence of a
// signature records the citizen's address that the proxy names, not the
// proxy's; a forged X-Forwarded-For from an untrusted peer is ignored; the
// request's log line carries the same address.
func TestEvidenceClientIP(t *testing.T) {
	e := newSignEnv(t)
	log := &syncBuffer{}
	e.srv = New(Deps{Enrollment: e.svc, Signing: e.signing, CSC: e.signing}, Options{
		Clock:  func() time.Time { return *e.now },
		Logger: slog.New(slog.NewJSONHandler(log, nil)),
		Limits: RateLimits{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	})
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	ag := e.agency(t, "Land Department", signing.ScopeSignRequests)

	for _, tc := range []struct {
		name, nid, peer, forwarded, want string
	}{
		{"through the proxy", "9861234567", "10.1.2.3:4000", "198.51.100.1, 203.0.113.9", "203.0.113.9"},
		{"forged by the client", "9867654321", "192.0.2.44:4000", "203.0.113.9", "192.0.2.44"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ph, tok := e.citizen(t, off, tc.nid)
			req := e.oneDocument(t, ag.Key, tc.nid)
			c, opts := e.begin(t, tok, req.ID)
			ph.cred.Counter++
			resp := virtualwebauthn.CreateAssertionResponse(e.rp, ph.auth, ph.cred, *opts)
			body, _ := json.Marshal(map[string]any{"ceremony_id": c.CeremonyID, "credential": json.RawMessage(resp)})
			hr := httptest.NewRequest("POST", "/api/v1/sign-requests/"+req.ID+"/approval/finish", bytes.NewReader(body))
			hr.RemoteAddr = tc.peer
			hr.Header.Set("X-Forwarded-For", tc.forwarded)
			hr.Header.Set("Authorization", "Bearer "+tok)
			hr.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, hr)
			if rec.Code != 200 {
				t.Fatalf("approval: %d %s", rec.Code, rec.Body)
			}
			var ev []store.SignEvidence
			if rec := e.call(t, "GET", "/api/v1/sign-requests/"+req.ID+"/evidence", ag.Key, nil, &ev); rec.Code != 200 || len(ev) != 1 {
				t.Fatalf("evidence: %d %s", rec.Code, rec.Body)
			}
			if ev[0].IP != tc.want {
				t.Errorf("evidence IP %q, want %q", ev[0].IP, tc.want)
			}
			id := rec.Header().Get("X-Request-Id")
			var logged bool
			for _, l := range strings.Split(log.String(), "\n") {
				logged = logged || strings.Contains(l, `"request_id":"`+id+`"`) && strings.Contains(l, `"client_ip":"`+tc.want+`"`)
			}
			if !logged {
				t.Errorf("no log line of request %s with client_ip %s", id, tc.want)
			}
		})
	}
}
