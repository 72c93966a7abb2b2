package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/thiqa/thiqa/internal/natid"
	"github.com/thiqa/thiqa/internal/problem"
)

// RateLimiter counts attempts in fixed windows, in the store that the
// replicas share (*store.Bolt and *store.Postgres implement it).
type RateLimiter interface {
	Hit(ctx context.Context, key string, now time.Time, window time.Duration) (hits int, windowEnd time.Time, err error)
}

// RateLimits bound the attempts at activation and sign-in in each window;
// zero fields take the defaults. They come on top of the registration
// authority's own locks (5 wrong activation codes lock a national number;
// 5 failed sign-ins lock an officer).
type RateLimits struct {
	// Window is the length of a counting window (default 10 min).
	Window time.Duration
	// PerIP bounds the activation attempts, and separately the sign-in
	// attempts, from one client address (default 2000: many phones share a
	// carrier's address).
	PerIP int
	// PerNationalID bounds the activation attempts for one national
	// number, and separately the sign-in attempts with the passkeys of
	// one identity (default 20).
	PerNationalID int
	// PerOfficer bounds the sign-in attempts for one officer username
	// (default 20).
	PerOfficer int
	// PerIPVerify bounds the validations of POST /api/v1/verify asked
	// from one client address by anyone but an agency with the verify
	// scope (default 300: each costs CPU and revocation fetches).
	PerIPVerify int
	// TrustedProxies are the reverse proxies in front of the API: from
	// them, the client's address is taken from X-Forwarded-For. None by
	// default: the address is the TCP peer's.
	TrustedProxies []netip.Prefix
}

func (l *RateLimits) setDefaults() {
	if l.Window <= 0 {
		l.Window = 10 * time.Minute
	}
	if l.PerIP <= 0 {
		l.PerIP = 2000
	}
	if l.PerNationalID <= 0 {
		l.PerNationalID = 20
	}
	if l.PerOfficer <= 0 {
		l.PerOfficer = 20
	}
	if l.PerIPVerify <= 0 {
		l.PerIPVerify = 300
	}
}

// ErrRateLimited is the error of an attempt over a rate limit: 429 with
// Retry-After.
var ErrRateLimited = errors.New("too many attempts")

// rateLimitedError says until when.
type rateLimitedError struct {
	what  string
	retry time.Duration
}

func (e *rateLimitedError) Error() string {
	return fmt.Sprintf("%v %s; try again in %d s", ErrRateLimited, e.what, retrySeconds(e.retry))
}

func (e *rateLimitedError) Unwrap() error { return ErrRateLimited }

func retrySeconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

// writeRateLimited sends a 429 problem document with Retry-After.
func writeRateLimited(w http.ResponseWriter, e *rateLimitedError) {
	w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(e.retry)))
	problem.Write(w, http.StatusTooManyRequests, "rate-limited", e.Error())
}

// limit is one counter an attempt goes through.
type limit struct {
	key  string
	max  int
	what string
}

// clientIP is the address of the client: the TCP peer, unless the peer is
// one of the trusted reverse proxies, in which case it is the right-most
// address of X-Forwarded-For that is not a trusted proxy (the left-most
// ones are the client's own say and may be forged).
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		host = h
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !inPrefixes(peer, trusted) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // malformed: trust nothing further left
		}
		if !inPrefixes(a.Unmap(), trusted) {
			return a.Unmap().String()
		}
	}
	return host
}

// ClientIP is the address of the client of r under these limits'
// trusted proxies (see TrustedProxies), for other front ends that count
// by address.
func (l RateLimits) ClientIP(r *http.Request) string { return clientIP(r, l.TrustedProxies) }

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// ipLimit counts the attempts at op from the request's address.
func (s *Server) ipLimit(r *http.Request, op string) limit {
	return limit{key: op + "/ip:" + clientIP(r, s.opts.Limits.TrustedProxies), max: s.opts.Limits.PerIP, what: "from this address"}
}

// nidLimit counts the activation attempts for a national number, as
// normalised; a malformed one is not counted (it is refused anyway).
func (s *Server) nidLimit(nid string) (limit, bool) {
	n, err := natid.Normalize(nid)
	if err != nil {
		return limit{}, false
	}
	return limit{key: "activate/nid:" + n, max: s.opts.Limits.PerNationalID, what: "for this national number"}, true
}

// userLimit counts the sign-in attempts with the passkeys of one identity,
// named by the user handle in the assertion (the identity's ID, which
// stands for its national number); an assertion without one is not
// counted here (it fails anyway).
func (s *Server) userLimit(credential json.RawMessage) (limit, bool) {
	var a struct {
		Response struct {
			UserHandle string `json:"userHandle"`
		} `json:"response"`
	}
	if json.Unmarshal(credential, &a) != nil || a.Response.UserHandle == "" || len(a.Response.UserHandle) > 128 {
		return limit{}, false
	}
	return limit{key: "signin/user:" + a.Response.UserHandle, max: s.opts.Limits.PerNationalID, what: "for this identity"}, true
}

func (s *Server) officerLimit(user string) limit {
	if len(user) > 64 {
		user = user[:64]
	}
	return limit{key: "signin/officer:" + user, max: s.opts.Limits.PerOfficer, what: "for this account"}
}

// checkLimits counts the attempt under each limit; it returns a
// *rateLimitedError when one is exceeded. Without a RateLimiter nothing is
// counted.
func (s *Server) checkLimits(r *http.Request, ls ...limit) error {
	if s.opts.Limiter == nil {
		return nil
	}
	now := s.opts.Clock()
	for _, l := range ls {
		n, end, err := s.opts.Limiter.Hit(r.Context(), l.key, now, s.opts.Limits.Window)
		if err != nil {
			return fmt.Errorf("rate limit: %w", err)
		}
		if n > l.max {
			return &rateLimitedError{what: l.what, retry: end.Sub(now)}
		}
	}
	return nil
}

// maxLimitedBody bounds what LimitPages reads of a body to find the
// account it names.
const maxLimitedBody = 64 << 10

// LimitPages wraps h so that POST requests to the given paths (the sign-in
// forms of pages outside the API: the officer console, the admin pages)
// count as sign-in attempts under
// the same limits as the API's: per client address, per officer account
// (a form's "username") and per identity (a JSON body's passkey
// "credential"). Past a limit they are answered 429 with Retry-After, and
// h does not see them.
func LimitPages(h http.Handler, lim RateLimiter, limits RateLimits, clock func() time.Time, paths ...string) http.Handler {
	if clock == nil {
		clock = time.Now
	}
	limits.setDefaults()
	s := &Server{opts: Options{Limiter: lim, Limits: limits, Clock: clock}}
	limited := map[string]bool{}
	for _, p := range paths {
		limited[p] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !limited[r.URL.Path] {
			h.ServeHTTP(w, r)
			return
		}
		ls := []limit{s.ipLimit(r, "signin")}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxLimitedBody+1))
		r.Body.Close()
		if err != nil || len(body) > maxLimitedBody {
			problem.Write(w, http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("request body over %d bytes", maxLimitedBody))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch ct {
		case "application/x-www-form-urlencoded":
			if v, err := url.ParseQuery(string(body)); err == nil && v.Get("username") != "" {
				ls = append(ls, s.officerLimit(v.Get("username")))
			}
		case "application/json", "":
			var req struct {
				Credential json.RawMessage `json:"credential"`
			}
			if json.Unmarshal(body, &req) == nil {
				if l, ok := s.userLimit(req.Credential); ok {
					ls = append(ls, l)
				}
			}
		}
		if err := s.checkLimits(r, ls...); err != nil {
			var rl *rateLimitedError
			if errors.As(err, &rl) {
				writeRateLimited(w, rl)
				return
			}
			problem.Write(w, http.StatusInternalServerError, "internal", "rate limit unavailable")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// LimitVerify wraps h so that POST requests to the given paths (the
// /verify/ page's upload) count against the same per-address budget of
// validations as POST /api/v1/verify (RateLimits.PerIPVerify), so that the
// page is no way around the API's limit. Past it they are answered 429
// with Retry-After before the body is read, and h does not see them.
func LimitVerify(h http.Handler, lim RateLimiter, limits RateLimits, clock func() time.Time, paths ...string) http.Handler {
	if clock == nil {
		clock = time.Now
	}
	limits.setDefaults()
	s := &Server{opts: Options{Limiter: lim, Limits: limits, Clock: clock}}
	limited := map[string]bool{}
	for _, p := range paths {
		limited[p] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !limited[r.URL.Path] {
			h.ServeHTTP(w, r)
			return
		}
		if err := s.checkLimits(r, s.verifyLimit(r)); err != nil {
			var rl *rateLimitedError
			if errors.As(err, &rl) {
				writeRateLimited(w, rl)
				return
			}
			problem.Write(w, http.StatusInternalServerError, "internal", "rate limit unavailable")
			return
		}
		h.ServeHTTP(w, r)
	})
}
