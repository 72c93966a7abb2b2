// Package loadtest drives a running Thiqa node with a mixed workload, for
// the reliability tests (crash under load, backup under load) and for soak
// runs. It only ever talks to a loopback address, and every run is bounded
// both in operations and in time.
//
// A workload is a list of weighted [Op]s; [Run] spreads them over workers
// and reports counts, errors and latency percentiles per operation. Ops for
// OCSP, the verification endpoint, audit proofs, health checks, passkey
// sign-ins ([SignIn]) and whole approvals of agencies' sign requests
// ([Approve]) are here; the passkey ops drive citizens' phones
// ([Phone], virtual WebAuthn authenticators) that a test activated.
//
// This package must not import other Thiqa packages.
package loadtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Errors of this package.
var (
	// ErrNotLoopback: the target is not a loopback address.
	ErrNotLoopback = errors.New("loadtest: target is not a loopback address")
	// ErrBadConfig: no ops, weights not positive, or bounds out of range.
	ErrBadConfig = errors.New("loadtest: bad configuration")
)

// Op is one kind of request in the mix. Do performs one request against
// base (e.g. "http://127.0.0.1:8080") and returns an error when the answer
// is not the expected one.
type Op struct {
	Name   string
	Weight int
	Do     func(ctx context.Context, c *http.Client, base string) error
}

// Config bounds a run. Zero values take the defaults.
type Config struct {
	Base    string // http://127.0.0.1:PORT or http://localhost:PORT
	Ops     []Op
	Workers int           // default 8, at most 1024
	MaxOps  int           // default 1000, at most 100 million
	For     time.Duration // default 10s, at most 24h
	Seed    uint64        // for the choice of ops
	// Client defaults to one with a 30 s timeout.
	Client *http.Client
}

// Stats are one operation's results.
type Stats struct {
	Count, Errors int
	P50, P99, Max time.Duration
	FirstError    string `json:",omitempty"`
}

// Result is a run's outcome.
type Result struct {
	Ops     map[string]*Stats
	Total   int
	Elapsed time.Duration
}

// Rate is the run's operations per second.
func (r Result) Rate() float64 { return float64(r.Total) / r.Elapsed.Seconds() }

func (c *Config) check() error {
	u, err := url.Parse(c.Base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%w: base %q", ErrBadConfig, c.Base)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%w: %s", ErrNotLoopback, host)
	}
	if len(c.Ops) == 0 {
		return fmt.Errorf("%w: no ops", ErrBadConfig)
	}
	for _, op := range c.Ops {
		if op.Weight <= 0 || op.Do == nil || op.Name == "" {
			return fmt.Errorf("%w: op %q", ErrBadConfig, op.Name)
		}
	}
	c.Workers = bound(c.Workers, 8, 1024)
	c.MaxOps = bound(c.MaxOps, 1000, 100_000_000)
	c.For = time.Duration(bound(int(c.For), int(10*time.Second), int(24*time.Hour)))
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 30 * time.Second}
	}
	return nil
}

func bound(v, def, max int) int {
	if v <= 0 {
		return def
	}
	return min(v, max)
}

// Run runs the workload until MaxOps operations are done, For has passed
// or ctx ends, whichever comes first.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.For)
	defer cancel()
	total := 0
	for _, op := range cfg.Ops {
		total += op.Weight
	}
	var (
		mu    sync.Mutex
		lat   = map[string][]time.Duration{}
		res   = Result{Ops: map[string]*Stats{}}
		start = time.Now()
		wg    sync.WaitGroup
	)
	tickets := make(chan struct{}, cfg.MaxOps)
	for range cfg.MaxOps {
		tickets <- struct{}{}
	}
	close(tickets)
	for w := range cfg.Workers {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(w)))
		wg.Go(func() {
			for range tickets {
				if ctx.Err() != nil {
					return
				}
				op := pick(cfg.Ops, rng.IntN(total))
				t0 := time.Now()
				err := op.Do(ctx, cfg.Client, cfg.Base)
				d := time.Since(t0)
				if err != nil && ctx.Err() != nil {
					return // cut short by the end of the run
				}
				mu.Lock()
				record(res.Ops, lat, op.Name, d, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	for name, ds := range lat {
		slices.Sort(ds)
		s := res.Ops[name]
		s.P50, s.P99, s.Max = ds[len(ds)/2], ds[len(ds)*99/100], ds[len(ds)-1]
		res.Total += s.Count
	}
	return res, nil
}

func pick(ops []Op, n int) Op {
	for _, op := range ops {
		if n < op.Weight {
			return op
		}
		n -= op.Weight
	}
	return ops[len(ops)-1]
}

func record(stats map[string]*Stats, lat map[string][]time.Duration, name string, d time.Duration, err error) {
	s := stats[name]
	if s == nil {
		s = &Stats{}
		stats[name] = s
	}
	s.Count++
	lat[name] = append(lat[name], d)
	if err != nil {
		s.Errors++
		if s.FirstError == "" {
			s.FirstError = err.Error()
		}
	}
}

func get(ctx context.Context, c *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return do(c, req)
}

func do(c *http.Client, req *http.Request) ([]byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
	}
	return b, nil
}

// Health is GET /healthz.
func Health(weight int) Op {
	return Op{Name: "health", Weight: weight, Do: func(ctx context.Context, c *http.Client, base string) error {
		_, err := get(ctx, c, base+"/healthz")
		return err
	}}
}

// OCSP asks POST /ocsp about one of certs (all issued by issuer), in turn,
// and checks that the answer is signed and says good.
func OCSP(weight int, issuer *x509.Certificate, certs []*x509.Certificate) Op {
	var n uint64
	var mu sync.Mutex
	return Op{Name: "ocsp", Weight: weight, Do: func(ctx context.Context, c *http.Client, base string) error {
		mu.Lock()
		cert := certs[n%uint64(len(certs))]
		n++
		mu.Unlock()
		der, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/ocsp", bytes.NewReader(der))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/ocsp-request")
		b, err := do(c, req)
		if err != nil {
			return err
		}
		resp, err := ocsp.ParseResponseForCert(b, cert, issuer)
		if err != nil {
			return fmt.Errorf("ocsp: %w", err)
		}
		if resp.Status != ocsp.Good {
			return fmt.Errorf("ocsp: status %d for %x", resp.Status, cert.SerialNumber)
		}
		return nil
	}}
}

// Verify posts pdf to POST /api/v1/verify and checks that a JSON report
// comes back.
func Verify(weight int, pdf []byte) Op {
	return Op{Name: "verify", Weight: weight, Do: func(ctx context.Context, c *http.Client, base string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/verify", bytes.NewReader(pdf))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/pdf")
		b, err := do(c, req)
		if err != nil {
			return err
		}
		if !json.Valid(b) {
			return errors.New("verify: answer is not JSON")
		}
		return nil
	}}
}

// AuditProof fetches the latest audit checkpoint's size, then an
// inclusion proof of a record in it (the log must hold one).
func AuditProof(weight int) Op {
	var n uint64
	var mu sync.Mutex
	return Op{Name: "audit-proof", Weight: weight, Do: func(ctx context.Context, c *http.Client, base string) error {
		b, err := get(ctx, c, base+"/audit/proof/consistency?from=0")
		if err != nil {
			return err
		}
		var cp struct{ To uint64 }
		if err := json.Unmarshal(b, &cp); err != nil || cp.To == 0 {
			return fmt.Errorf("audit: no checkpoint with records (%v)", err)
		}
		mu.Lock()
		i := n % cp.To
		n++
		mu.Unlock()
		_, err = get(ctx, c, fmt.Sprintf("%s/audit/proof/inclusion?index=%d&size=%d", base, i, cp.To))
		return err
	}}
}
