package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// RateLimitStore is what the rate-limit contract covers.
type RateLimitStore interface {
	Hit(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error)
}

// RunRateLimits runs the rate-limit counters' contract against fresh
// stores made by open.
func RunRateLimits(t *testing.T, open func(t *testing.T) RateLimitStore) {
	ctx := context.Background()
	now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	t.Run("Window", func(t *testing.T) {
		s := open(t)
		for i := 1; i <= 3; i++ {
			n, end, err := s.Hit(ctx, "ip:192.0.2.1", now.Add(time.Duration(i)*time.Second), time.Minute)
			if err != nil || n != i || !end.Equal(now.Add(time.Second+time.Minute)) {
				t.Fatalf("hit %d = %d, %v, %v; want %d and the first hit's window", i, n, end, err, i)
			}
		}
		if n, _, _ := s.Hit(ctx, "ip:192.0.2.2", now, time.Minute); n != 1 {
			t.Fatalf("another key counts from %d", n)
		}
		// At the window's end a new one opens.
		n, end, err := s.Hit(ctx, "ip:192.0.2.1", now.Add(time.Second+time.Minute), time.Minute)
		if err != nil || n != 1 || !end.Equal(now.Add(time.Second+2*time.Minute)) {
			t.Fatalf("hit after the window = %d, %v, %v", n, end, err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		seen := make([]bool, 41)
		var mu sync.Mutex
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, _, err := s.Hit(ctx, "nid:9871000001", now, time.Minute)
				mu.Lock()
				defer mu.Unlock()
				if err != nil || n < 1 || n > 40 || seen[n] {
					t.Errorf("concurrent hit = %d, %v (a count given twice or out of range)", n, err)
					return
				}
				seen[n] = true
			}()
		}
		wg.Wait()
	})
	t.Run("BadKey", func(t *testing.T) {
		s := open(t)
		for _, k := range []string{"", fmt.Sprintf("%0300d", 0)} {
			if _, _, err := s.Hit(ctx, k, now, time.Minute); err == nil {
				t.Errorf("Hit(%d-byte key) did not fail", len(k))
			}
		}
		if _, _, err := s.Hit(ctx, "k", now, 0); err == nil {
			t.Error("Hit with no window did not fail")
		}
	})
}
