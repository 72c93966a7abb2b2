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

// TestRateLimitsWired: with Options.RateLimits the node's API counts
// sign-in attempts in its store and answers 429 past the limit; without,
// nothing is counted.
func TestRateLimitsWired(t *testing.T) {
	for _, limits := range []*api.RateLimits{{PerIP: 2, Window: time.Minute}, nil} {
		n, _, err := Open(context.Background(), Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig(), RateLimits: limits})
		if err != nil {
			t.Fatal(err)
		}
		h := n.Handler()
		codes := []int{}
		for range 3 {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/signin/begin", nil))
			codes = append(codes, rec.Code)
		}
		n.Close()
		want := []int{200, 200, 200}
		if limits != nil {
			want[2] = 429
		}
		if codes[0] != want[0] || codes[1] != want[1] || codes[2] != want[2] {
			t.Errorf("limits %v: statuses %v, want %v", limits, codes, want)
		}
	}
}
