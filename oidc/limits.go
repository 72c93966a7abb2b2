package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Limiter counts attempts in fixed windows, in the store that the replicas
// share (*store.Bolt and *store.Postgres implement it).
type Limiter interface {
	Hit(ctx context.Context, key string, now time.Time, window time.Duration) (hits int, windowEnd time.Time, err error)
}

// Limits bound what unauthenticated browsers can make the provider store.
// Anyone may call /authorize, and each call that names a registered client
// and one of its redirect URIs stores a pending authorization request for
// [Options.RequestTTL]; POST /login/begin stores a passkey ceremony. The
// zero value counts nothing.
type Limits struct {
	// Limiter counts; nil disables every limit.
	Limiter Limiter
	// Window is the length of a counting window of PerIP (default 10 min).
	Window time.Duration
	// PerIP bounds the calls of /authorize, and separately of
	// /login/begin, from one client address in a window (default 2000,
	// as the API's sign-in limit: a carrier's address is shared by many
	// phones). Over it the browser
	// gets a 429 page and nothing is stored; no redirect is made, since
	// the redirect URI is not yet checked.
	PerIP int
	// PerClient bounds the authorization requests created for one client
	// in a window of [Options.RequestTTL], so that at most twice as many
	// are pending at once (default 50000). Over it the request is
	// refused with temporarily_unavailable (RFC 6749 section 4.1.2.1),
	// redirected to the client's verified redirect URI.
	PerClient int
	// PerIdentity bounds the passkey sign-ins at /login/finish with the
	// passkeys of one identity (named by the assertion's user handle) in
	// a window (default 20). The counter is the one the API's citizen
	// sign-in counts ("signin/user:" and the handle), so both share one
	// budget.
	PerIdentity int
	// ClientIP returns the address of the browser (default: the TCP
	// peer's host); a server behind reverse proxies passes the API's,
	// which reads X-Forwarded-For from trusted proxies only.
	ClientIP func(*http.Request) string
}

func (l *Limits) setDefaults() {
	if l.Window <= 0 {
		l.Window = 10 * time.Minute
	}
	if l.PerIP <= 0 {
		l.PerIP = 2000
	}
	if l.PerClient <= 0 {
		l.PerClient = 50000
	}
	if l.PerIdentity <= 0 {
		l.PerIdentity = 20
	}
	if l.ClientIP == nil {
		l.ClientIP = peerIP
	}
}

// peerIP is the host of the request's TCP peer.
func peerIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// errLimited is an attempt over a limit.
type errLimited struct{ retry time.Duration }

func (e *errLimited) Error() string {
	return fmt.Sprintf("too many sign-in attempts; try again in %d s", retrySeconds(e.retry))
}

func retrySeconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

// hit counts one attempt under key; it returns an *errLimited over max.
// A store that cannot count refuses the attempt (the error is returned).
func (p *Provider) hit(ctx context.Context, key string, limit int, window time.Duration) error {
	l := p.opts.Limits
	if l.Limiter == nil {
		return nil
	}
	if len(key) > 200 {
		key = key[:200]
	}
	now := p.now()
	n, end, err := l.Limiter.Hit(ctx, key, now, window)
	if err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	if n > limit {
		return &errLimited{retry: end.Sub(now)}
	}
	return nil
}

// limitIP wraps an endpoint that stores something for an unauthenticated
// browser with the per-address limit named op.
func (p *Provider) limitIP(op string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := p.opts.Limits
		if l.Limiter == nil {
			next.ServeHTTP(w, r)
			return
		}
		err := p.hit(r.Context(), op+"/ip:"+l.ClientIP(r), l.PerIP, l.Window)
		if err != nil {
			p.refused(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refused answers an attempt over a limit with a page of its own (429 and
// Retry-After), or 503 when the store could not count it.
func (p *Provider) refused(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusServiceUnavailable, "تعذر التحقق من عدد المحاولات، حاول لاحقاً / the service is busy, try again later"
	if e, ok := err.(*errLimited); ok {
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(e.retry)))
		msg = fmt.Sprintf("محاولات كثيرة، حاول بعد %d ثانية / %s", retrySeconds(e.retry), e.Error())
	}
	setPageHeaders(w, "")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// limitIdentity counts a sign-in with the passkeys of the identity named
// by the assertion's user handle; an assertion without one is not counted
// (it fails anyway).
func (p *Provider) limitIdentity(ctx context.Context, credential json.RawMessage) error {
	var a struct {
		Response struct {
			UserHandle string `json:"userHandle"`
		} `json:"response"`
	}
	if json.Unmarshal(credential, &a) != nil || a.Response.UserHandle == "" || len(a.Response.UserHandle) > 128 {
		return nil
	}
	l := p.opts.Limits
	return p.hit(ctx, "signin/user:"+a.Response.UserHandle, l.PerIdentity, l.Window)
}

// limitClient counts a new authorization request for the client; over
// the limit it is refused with temporarily_unavailable.
func (s *storage) limitClient(ctx context.Context, clientID string) error {
	l := s.p.opts.Limits
	err := s.p.hit(ctx, "oidc-authorize/client:"+clientID, l.PerClient, s.p.opts.RequestTTL)
	if err == nil {
		return nil
	}
	if _, ok := err.(*errLimited); ok {
		return &oidc.Error{ErrorType: errTemporarilyUnavailable,
			Description: "too many pending sign-ins for this service; try again later"}
	}
	return oidc.ErrServerError().WithParent(err)
}

// errTemporarilyUnavailable is the error code of RFC 6749 section
// 4.1.2.1 for an overloaded authorization server.
const errTemporarilyUnavailable = "temporarily_unavailable"
