// Package api is Thiqa's HTTP API under /api/v1/: JSON in and out, errors as
// RFC 9457 problem documents mapped from the domain packages' error values
// in one place ([writeError]), a request ID and one structured log line per
// request, bounded request bodies.
//
// Each part of the API lives in its own file and registers its routes from
// init through [routeSets]; authorization for every route is decided in
// [authorize] (auth.go), the one place to read to know who may call what.
//
// This package imports the domain packages (ca, signer, enrollment, …) and
// is imported only by internal/node and cmd.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/thiqa/thiqa/internal/problem"
)

// Options tune the server; the zero value is safe.
type Options struct {
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// MaxBody bounds request bodies (default 32 MiB).
	MaxBody int64
	// Clock replaces time.Now (tests).
	Clock func() time.Time
	// Limiter, when set, counts activation and sign-in attempts, which
	// Limits bound (api/ratelimit.go); nil counts nothing.
	Limiter RateLimiter
	Limits  RateLimits
}

// Server is the /api/v1/ handler. Its dependencies are set by internal/node;
// a part of the API whose dependency is nil answers 503.
type Server struct {
	Deps
	opts Options
	mux  *http.ServeMux
}

// routeSets are the route registrations of the API's parts, appended by
// each part's init.
var routeSets []func(*Server, *http.ServeMux)

// New builds the API server.
func New(d Deps, opts Options) *Server {
	if opts.MaxBody <= 0 {
		opts.MaxBody = 32 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	opts.Limits.setDefaults()
	s := &Server{Deps: d, opts: opts, mux: http.NewServeMux()}
	for _, add := range routeSets {
		add(s, s.mux)
	}
	s.mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, http.StatusNotFound, "not-found", "no such API endpoint")
	})
	return s
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	// clientIPKey keys the client's address: the TCP peer's, or the one a
	// trusted reverse proxy names (RateLimits.TrustedProxies).
	clientIPKey
)

// RequestID returns the request's ID.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// ServeHTTP adds the request ID and the client's address, bounds the
// body, recovers from panics as 500 problems and logs one line per
// request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.opts.Clock()
	b := make([]byte, 8)
	rand.Read(b)
	id := hex.EncodeToString(b)
	w.Header().Set("X-Request-Id", id)
	client := clientIP(r, s.opts.Limits.TrustedProxies)
	r = r.WithContext(context.WithValue(context.WithValue(r.Context(), requestIDKey, id), clientIPKey, client))
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if v := recover(); v != nil {
			s.opts.Logger.Error("panic", "request_id", id, "panic", fmt.Sprint(v))
			problem.Write(rec, http.StatusInternalServerError, "internal", "internal error")
		}
		s.opts.Logger.Info("request", "request_id", id, "client_ip", client, "method", r.Method, "path", logPath(r),
			"status", rec.status, "bytes", rec.bytes, "duration_ms", s.opts.Clock().Sub(start).Milliseconds())
	}()
	s.mux.ServeHTTP(rec, r)
}

// logPath is the request's path as logs may keep it: a national number
// in the path (the officer routes under /api/v1/identities/{nid}) is
// replaced by "{nid}", since logs are kept longer and read by more people
// than the registration records a national number belongs in.
func logPath(r *http.Request) string {
	if nid := r.PathValue("nid"); nid != "" {
		return strings.Replace(r.URL.Path, "/"+nid, "/{nid}", 1)
	}
	return r.URL.Path
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }
func (r *statusRecorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// writeJSON sends v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decodeJSON reads a JSON body strictly: unknown fields and trailing data
// are errors.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON body", ErrBadRequest)
	}
	return nil
}

// Errors of the API layer itself.
var (
	ErrBadRequest   = errors.New("bad request")
	ErrUnauthorized = errors.New("authentication required")
	ErrForbidden    = errors.New("not allowed")
	ErrUnavailable  = errors.New("service not configured")
	ErrMediaType    = errors.New("unsupported media type")
)

// errorMap maps error values to problem statuses and stable type slugs. It
// is the one place where the API decides what an error means over HTTP;
// parts of the API append their packages' errors from init.
var errorMap = []struct {
	err    error
	status int
	slug   string
}{
	{ErrBadRequest, http.StatusBadRequest, "bad-request"},
	{ErrUnauthorized, http.StatusUnauthorized, "unauthorized"},
	{ErrForbidden, http.StatusForbidden, "forbidden"},
	{ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{ErrMediaType, http.StatusUnsupportedMediaType, "unsupported-media-type"},
}

// writeError sends err as a problem document. Errors not in errorMap are
// 500s whose detail is not shown (it may hold internals).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var rl *rateLimitedError
	if errors.As(err, &rl) {
		writeRateLimited(w, rl)
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		problem.Write(w, http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("request body over %d bytes", mbe.Limit))
		return
	}
	for _, e := range errorMap {
		if errors.Is(err, e.err) {
			problem.Write(w, e.status, e.slug, err.Error())
			return
		}
	}
	s.opts.Logger.Error("internal error", "request_id", RequestID(r.Context()), "err", err)
	problem.Write(w, http.StatusInternalServerError, "internal", "internal error (request "+RequestID(r.Context())+")")
}
