package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Rate limits count attempts (activation codes, sign-ins) per key in fixed
// windows: the first hit of a key opens a window of the given length; hits
// until its end are counted; the next hit after it opens a new window.

// maxLimitKey bounds a rate-limit key.
const maxLimitKey = 200

func checkLimit(key string, window time.Duration) error {
	if key == "" || len(key) > maxLimitKey || window <= 0 {
		return fmt.Errorf("rate limit hit: key of %d bytes, window %v", len(key), window)
	}
	return nil
}

// memLimits are the embedded store's counters. A bbolt file is open in one
// process only, so counters in memory are shared by everything that
// serves from it; they are not written to disk (a restart forgets them).
type memLimits struct {
	mu    sync.Mutex
	m     map[string]memWindow
	purge time.Time
}

type memWindow struct {
	end  time.Time
	hits int
}

// Hit counts one attempt under key at now and returns the attempts in the
// current window and when it ends.
func (s *Bolt) Hit(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	if err := checkLimit(key, window); err != nil {
		return 0, time.Time{}, err
	}
	l := &s.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]memWindow{}
	}
	if now.After(l.purge) {
		// Drop ended windows once a minute, so memory follows the keys
		// seen recently.
		for k, w := range l.m {
			if !now.Before(w.end) {
				delete(l.m, k)
			}
		}
		l.purge = now.Add(time.Minute)
	}
	w := l.m[key]
	if !now.Before(w.end) {
		w = memWindow{end: now.Add(window)}
	}
	w.hits++
	l.m[key] = w
	return w.hits, w.end, nil
}

// Hit implements the same method of [Bolt] with one atomic upsert, so that
// replicas count together. Ended windows are purged now and then.
func (s *Postgres) Hit(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	if err := checkLimit(key, window); err != nil {
		return 0, time.Time{}, err
	}
	var hits int
	var end time.Time
	err := s.pool.QueryRow(ctx, `INSERT INTO rate_limits AS l (key, window_end, hits) VALUES ($1, $2, 1)
		ON CONFLICT (key) DO UPDATE SET
			hits = CASE WHEN l.window_end <= $3 THEN 1 ELSE l.hits + 1 END,
			window_end = CASE WHEN l.window_end <= $3 THEN $2 ELSE l.window_end END
		RETURNING hits, window_end`, key, now.Add(window), now).Scan(&hits, &end)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("rate limit hit: %w", err)
	}
	if hits == 1 && rand.N(64) == 0 {
		// About one new window in 64 clears a batch of ended ones.
		s.pool.Exec(ctx, `DELETE FROM rate_limits WHERE key IN
			(SELECT key FROM rate_limits WHERE window_end < $1 LIMIT 1000)`, now)
	}
	return hits, end.UTC(), nil
}
