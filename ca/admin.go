package ca

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/thiqa/thiqa/internal/problem"
	"github.com/thiqa/thiqa/store"
)

// Operator is what an operator does with the authority. [*Service] does it
// in process; [AdminClient] asks a running server through its local admin
// socket (the embedded store admits one process at a time).
type Operator interface {
	List(ctx context.Context, issuer string, p store.Page) ([]store.Certificate, error)
	Lookup(ctx context.Context, serial *big.Int) (store.Certificate, error)
	Revoke(ctx context.Context, serial *big.Int, reason Reason) (store.Certificate, error)
	Release(ctx context.Context, serial *big.Int) (store.Certificate, error)
	FreshCRL(ctx context.Context, name string) (store.CRL, error)
	IssueFromCSR(ctx context.Context, profile Profile, csr []byte, subject Subject) (*x509.Certificate, error)
}

var (
	_ Operator = (*Service)(nil)
	_ Operator = (*AdminClient)(nil)
)

// FreshCRL issues a new CRL for the named CA now and returns it.
func (s *Service) FreshCRL(ctx context.Context, name string) (store.CRL, error) {
	if err := s.RefreshCRL(ctx, name); err != nil {
		return store.CRL{}, err
	}
	return s.store.LatestCRL(ctx, name)
}

// errorSlugs maps the package's errors to stable problem types, both ways.
var errorSlugs = []struct {
	err    error
	status int
	slug   string
}{
	{ErrNotFound, http.StatusNotFound, "not-found"},
	{ErrAlreadyRevoked, http.StatusConflict, "already-revoked"},
	{ErrNotOnHold, http.StatusConflict, "not-on-hold"},
	{ErrBadReason, http.StatusBadRequest, "bad-revocation-reason"},
	{ErrProfile, http.StatusUnprocessableEntity, "profile-mismatch"},
	{ErrLint, http.StatusUnprocessableEntity, "lint-refused"},
	{ErrBadCSR, http.StatusBadRequest, "bad-csr"},
}

// writeError reports err as a problem document.
func writeError(w http.ResponseWriter, err error) {
	for _, e := range errorSlugs {
		if errors.Is(err, e.err) {
			problem.Write(w, e.status, e.slug, err.Error())
			return
		}
	}
	problem.Write(w, http.StatusInternalServerError, "internal", "internal error")
}

// AdminHandler serves the operator API on the local admin socket. It has no
// authentication of its own: the socket's file permissions (0600, owner
// only) are the access control, so it must never be served on a network
// listener.
func (s *Service) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /certificates", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		certs, err := s.List(r.Context(), r.URL.Query().Get("issuer"), store.Page{After: r.URL.Query().Get("after"), Limit: limit})
		reply(w, certs, err)
	})
	withSerial := func(fn func(r *http.Request, n *big.Int) (any, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			n, err := ParseSerial(r.PathValue("serial"))
			if err != nil {
				writeError(w, err)
				return
			}
			v, err := fn(r, n)
			reply(w, v, err)
		}
	}
	mux.HandleFunc("GET /certificates/{serial}", withSerial(func(r *http.Request, n *big.Int) (any, error) {
		return s.Lookup(r.Context(), n)
	}))
	mux.HandleFunc("POST /certificates/{serial}/revoke", withSerial(func(r *http.Request, n *big.Int) (any, error) {
		reason, err := ParseReason(r.URL.Query().Get("reason"))
		if err != nil {
			return nil, err
		}
		return s.Revoke(r.Context(), n, reason)
	}))
	mux.HandleFunc("POST /certificates/{serial}/release", withSerial(func(r *http.Request, n *big.Int) (any, error) {
		return s.Release(r.Context(), n)
	}))
	mux.HandleFunc("POST /crls/{name}", func(w http.ResponseWriter, r *http.Request) {
		crl, err := s.FreshCRL(r.Context(), r.PathValue("name"))
		reply(w, crl, err)
	})
	mux.HandleFunc("POST /issue", func(w http.ResponseWriter, r *http.Request) {
		var req issueRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			problem.Write(w, http.StatusBadRequest, "bad-json", err.Error())
			return
		}
		cert, err := s.IssueFromCSR(r.Context(), req.Profile, req.CSR, req.Subject)
		if err != nil {
			writeError(w, err)
			return
		}
		reply(w, issueResponse{DER: cert.Raw}, nil)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(WithActor(r.Context(), "operator:admin-socket")))
	})
}

type issueRequest struct {
	Profile Profile `json:"profile"`
	CSR     []byte  `json:"csr"`
	Subject Subject `json:"subject"`
}

type issueResponse struct {
	DER []byte `json:"der"`
}

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// AdminClient is an [Operator] that talks to a running server's admin
// socket.
type AdminClient struct {
	hc *http.Client
}

// DialAdmin returns a client for the admin socket at path, after checking
// that a server answers there.
func DialAdmin(path string) (*AdminClient, error) {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	c.Close()
	return &AdminClient{hc: hc}, nil
}

func (c *AdminClient) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://admin"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var p problem.Details
		json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&p)
		for _, e := range errorSlugs {
			if p.Type == problem.TypeBase+e.slug {
				return fmt.Errorf("%w%s", e.err, strings.TrimPrefix(p.Detail, e.err.Error()))
			}
		}
		return fmt.Errorf("admin socket: %s: %s", resp.Status, p.Detail)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// List implements [Operator].
func (c *AdminClient) List(ctx context.Context, issuer string, p store.Page) ([]store.Certificate, error) {
	var out []store.Certificate
	q := url.Values{"issuer": {issuer}, "after": {p.After}, "limit": {strconv.Itoa(p.Limit)}}
	return out, c.do(ctx, "GET", "/certificates?"+q.Encode(), nil, &out)
}

// Lookup implements [Operator].
func (c *AdminClient) Lookup(ctx context.Context, serial *big.Int) (store.Certificate, error) {
	var out store.Certificate
	return out, c.do(ctx, "GET", "/certificates/"+SerialString(serial), nil, &out)
}

// Revoke implements [Operator].
func (c *AdminClient) Revoke(ctx context.Context, serial *big.Int, reason Reason) (store.Certificate, error) {
	var out store.Certificate
	return out, c.do(ctx, "POST", "/certificates/"+SerialString(serial)+"/revoke?reason="+reason.String(), nil, &out)
}

// Release implements [Operator].
func (c *AdminClient) Release(ctx context.Context, serial *big.Int) (store.Certificate, error) {
	var out store.Certificate
	return out, c.do(ctx, "POST", "/certificates/"+SerialString(serial)+"/release", nil, &out)
}

// FreshCRL implements [Operator].
func (c *AdminClient) FreshCRL(ctx context.Context, name string) (store.CRL, error) {
	var out store.CRL
	return out, c.do(ctx, "POST", "/crls/"+url.PathEscape(name), nil, &out)
}

// IssueFromCSR implements [Operator].
func (c *AdminClient) IssueFromCSR(ctx context.Context, profile Profile, csr []byte, subject Subject) (*x509.Certificate, error) {
	var out issueResponse
	if err := c.do(ctx, "POST", "/issue", issueRequest{profile, csr, subject}, &out); err != nil {
		return nil, err
	}
	return x509.ParseCertificate(out.DER)
}
