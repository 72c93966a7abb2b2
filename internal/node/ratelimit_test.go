package node

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
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

// TestPageSignInsLimited: the officers' sign-in forms of the pages count
// against the same limits as the API.
func TestPageSignInsLimited(t *testing.T) {
	n, _, err := Open(context.Background(), Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig(),
		RateLimits: &api.RateLimits{PerIP: 100, PerOfficer: 2, Window: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	h := n.Handler()
	post := func(path, user string) int {
		req := httptest.NewRequest("POST", path, strings.NewReader("username="+user+"&password=wrong&totp=000000"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	codes := []int{post("/centre/signin", "omar"), post("/admin/signin", "omar"), post("/centre/signin", "omar")}
	if codes[0] == 429 || codes[1] == 429 || codes[2] != 429 {
		t.Fatalf("officer sign-ins through the pages: %v, want the third refused with 429", codes)
	}
	if code := post("/centre/signin", "amal"); code == 429 {
		t.Fatal("another officer's sign-in was limited")
	}
}
