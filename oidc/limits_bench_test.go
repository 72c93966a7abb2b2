package oidc

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/oauth2"
)

// BenchmarkAuthorize measures what an unauthenticated /authorize call
// costs the provider on bbolt: client and redirect URI checked, the
// pending request stored, the redirect to the sign-in page, without and
// with the per-address and per-client counters; and the refusal of an
// address over its limit, which stores nothing.
func BenchmarkAuthorize(b *testing.B) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, bc := range []struct {
		name  string
		lim   bool
		perIP int
		want  int
	}{
		{"no-limits", false, 0, http.StatusFound},
		{"limits", true, 1 << 30, http.StatusFound},
		{"over-limit", true, 1, http.StatusTooManyRequests},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b)
			o := Options{Clock: e.clock.now}
			if bc.lim {
				o.Limits = Limits{Limiter: e.st, PerIP: bc.perIP, PerClient: 1 << 30}
			}
			p, err := New(ctx, e.srv.URL+"/oidc", Deps{Citizens: e.enr, Clients: e.st, Keys: e.keys, Audit: e.audit, State: e.st}, o)
			if err != nil {
				b.Fatal(err)
			}
			h := http.StripPrefix("/oidc", p.Handler())
			c, secret := e.register(b, "Justice")
			u := e.party(b, c.ID, secret).cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, u, nil))
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u, nil))
				if rec.Code != bc.want {
					b.Fatalf("authorize: %d, want %d", rec.Code, bc.want)
				}
			}
		})
	}
}
