// Package metrics holds Thiqa's Prometheus metrics: HTTP requests and
// latencies per route, signatures by level, issuance, revocation, audit
// events, key-custody and store latency. [New] makes a registry of its own
// (no global state); [Metrics.Handler] serves it at /metrics and
// [Metrics.Middleware] measures every request. Services are instrumented
// where node wires them: [Metrics.Custody] wraps key custody; the counters
// are exported for the packages' callers to increment.
//
// This package may import hsm (to wrap it) and nothing else of Thiqa.
package metrics

import (
	"context"
	"crypto"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/thiqa/thiqa/hsm"
)

// Metrics is one node's set of metrics.
type Metrics struct {
	Registry *prometheus.Registry

	Requests       *prometheus.CounterVec   // route, code
	RequestSeconds *prometheus.HistogramVec // route
	// Signatures counts signatures made, by PAdES level (B-B, B-T, B-LT,
	// B-LTA).
	Signatures *prometheus.CounterVec
	// Issued counts certificates issued, by profile.
	Issued *prometheus.CounterVec
	// Revoked counts revocations, by RFC 5280 reason name.
	Revoked *prometheus.CounterVec
	// AuditEvents counts audit events appended, by action.
	AuditEvents *prometheus.CounterVec
	// KeySeconds is key-custody latency, by operation (sign, key, generate)
	// and algorithm.
	KeySeconds *prometheus.HistogramVec
	// StoreSeconds is store latency, by operation.
	StoreSeconds *prometheus.HistogramVec
}

// New makes the metrics and registers them, with the Go runtime and process
// collectors, in a new registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thiqa_http_requests_total", Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		RequestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "thiqa_http_request_duration_seconds", Help: "HTTP request latency, by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		Signatures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thiqa_signatures_total", Help: "Signatures made, by PAdES level.",
		}, []string{"level"}),
		Issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thiqa_certificates_issued_total", Help: "Certificates issued, by profile.",
		}, []string{"profile"}),
		Revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thiqa_certificates_revoked_total", Help: "Certificates revoked or suspended, by reason.",
		}, []string{"reason"}),
		AuditEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thiqa_audit_events_total", Help: "Audit events appended, by action.",
		}, []string{"action"}),
		KeySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "thiqa_key_custody_duration_seconds", Help: "Key-custody latency, by operation and algorithm.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"op", "alg"}),
		StoreSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "thiqa_store_duration_seconds", Help: "Store latency, by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"op"}),
	}
	m.Registry.MustRegister(m.Requests, m.RequestSeconds, m.Signatures, m.Issued, m.Revoked,
		m.AuditEvents, m.KeySeconds, m.StoreSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Middleware counts and times every request to next, labelled by [Route].
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := Route(r.URL.Path)
		m.Requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		m.RequestSeconds.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// Route maps a request path to a label of bounded cardinality: the first
// path segment ("/ocsp", "/tsa", "/ca", "/crl", "/audit"), or the first
// three for the API ("/api/v1/sign-requests"); identifiers and serials
// further down are dropped.
func Route(path string) string {
	segs := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 4)
	n := 1
	if segs[0] == "api" {
		n = min(3, len(segs))
	}
	route := "/" + strings.Join(segs[:n], "/")
	if len(route) > 64 || strings.ContainsAny(route, "%?") {
		return "other"
	}
	return route
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Custody wraps key custody so that every operation and signature is
// timed in KeySeconds.
func (m *Metrics) Custody(c hsm.Custody) hsm.Custody { return &custody{c, m} }

type custody struct {
	hsm.Custody
	m *Metrics
}

var _ hsm.Custody = (*custody)(nil)

func (c *custody) GenerateKey(ctx context.Context, id hsm.KeyID, alg hsm.Algorithm) (hsm.Key, error) {
	start := time.Now()
	k, err := c.Custody.GenerateKey(ctx, id, alg)
	c.m.KeySeconds.WithLabelValues("generate", string(alg)).Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, err
	}
	return &key{k, c.m}, nil
}

func (c *custody) Key(ctx context.Context, id hsm.KeyID) (hsm.Key, error) {
	start := time.Now()
	k, err := c.Custody.Key(ctx, id)
	if err != nil {
		return nil, err
	}
	c.m.KeySeconds.WithLabelValues("key", string(k.Algorithm())).Observe(time.Since(start).Seconds())
	return &key{k, c.m}, nil
}

type key struct {
	hsm.Key
	m *Metrics
}

func (k *key) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	start := time.Now()
	sig, err := k.Key.Sign(r, digest, opts)
	k.m.KeySeconds.WithLabelValues("sign", string(k.Algorithm())).Observe(time.Since(start).Seconds())
	return sig, err
}

// Wrapped wraps citizens' key custody so that making a wrapped key
// (operation "wrap-generate", by key algorithm) and each signing with one
// ("wrap-sign": unwrap, sign the approved digests, destroy; by digest
// algorithm, as the blob does not say its key's) are timed in KeySeconds.
// Failed operations are not timed.
func (m *Metrics) Wrapped(w hsm.WrappedCustody) hsm.WrappedCustody { return &wrapped{w, m} }

type wrapped struct {
	hsm.WrappedCustody
	m *Metrics
}

func (w *wrapped) NewWrappedKey(ctx context.Context, owner string, alg hsm.Algorithm) ([]byte, crypto.PublicKey, error) {
	start := time.Now()
	blob, pub, err := w.WrappedCustody.NewWrappedKey(ctx, owner, alg)
	if err == nil {
		w.m.KeySeconds.WithLabelValues("wrap-generate", string(alg)).Observe(time.Since(start).Seconds())
	}
	return blob, pub, err
}

func (w *wrapped) SignWithWrapped(ctx context.Context, owner string, blob []byte, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	start := time.Now()
	sigs, err := w.WrappedCustody.SignWithWrapped(ctx, owner, blob, digests, opts)
	if err == nil {
		w.m.KeySeconds.WithLabelValues("wrap-sign", opts.HashFunc().String()).Observe(time.Since(start).Seconds())
	}
	return sigs, err
}
