package node

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/thiqa/thiqa/api"
	"github.com/thiqa/thiqa/ca"
)

// TestOIDCAuthorizeLimited: with Options.RateLimits, calls of the OpenID
// provider's /authorize from one address count in the store, and past the
// limit get a 429 page, not a redirect; without, nothing is counted.
func TestOIDCAuthorizeLimited(t *testing.T) {
	for _, limits := range []*api.RateLimits{{PerIP: 2, Window: time.Minute}, nil} {
		n, _, err := Open(context.Background(), Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig(), RateLimits: limits})
		if err != nil {
			t.Fatal(err)
		}
		h := n.Handler()
		var codes []int
		for range 3 {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/oidc/authorize?client_id=nobody&redirect_uri=https://evil.example/cb", nil))
			codes = append(codes, rec.Code)
			if loc := rec.Header().Get("Location"); loc != "" {
				t.Errorf("unknown client redirected to %s", loc)
			}
		}
		n.Close()
		want := []int{400, 400, 400}
		if limits != nil {
			want[2] = 429
		}
		if codes[0] != want[0] || codes[1] != want[1] || codes[2] != want[2] {
			t.Errorf("limits %v: statuses %v, want %v", limits, codes, want)
		}
	}
}
