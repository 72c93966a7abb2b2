package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/digitorus/timestamp"
)

// Timestamper returns an RFC 3161 time-stamp token (a DER ContentInfo
// holding SignedData) for a digest made with h. Thiqa's own authority
// (internal/tsp.Authority.Token) satisfies it in process; [HTTPTimestamper]
// talks to any TSA over HTTP.
type Timestamper interface {
	Timestamp(ctx context.Context, h crypto.Hash, digest []byte) ([]byte, error)
}

// TimestamperFunc adapts a function to [Timestamper].
type TimestamperFunc func(ctx context.Context, h crypto.Hash, digest []byte) ([]byte, error)

// Timestamp calls f.
func (f TimestamperFunc) Timestamp(ctx context.Context, h crypto.Hash, digest []byte) ([]byte, error) {
	return f(ctx, h, digest)
}

// TokenSizer is implemented by a Timestamper that knows how large its
// tokens are; the signer reserves that much space in /Contents.
type TokenSizer interface {
	TokenSize(ctx context.Context, h crypto.Hash) (int, error)
}

// tokenMargin covers tokens that vary in size (serial numbers, nonces,
// fractions of seconds).
const tokenMargin = 64

// tokenReserve returns the bytes to reserve for a token: the token size
// plus a margin, rounded up to a multiple of 512 so that preparing the
// same document twice gives the same placeholder (and digest) even when
// token sizes differ by a few bytes.
func tokenReserve(ctx context.Context, ts Timestamper, fixed int, h crypto.Hash) (int, error) {
	if fixed > 0 {
		return fixed, nil
	}
	var n int
	if s, ok := ts.(TokenSizer); ok {
		var err error
		if n, err = s.TokenSize(ctx, h); err != nil {
			return 0, fmt.Errorf("%w: estimate token size: %v", ErrTimestamp, err)
		}
	} else {
		tok, err := ts.Timestamp(ctx, h, make([]byte, h.Size()))
		if err != nil {
			return 0, fmt.Errorf("%w: probe token size: %v", ErrTimestamp, err)
		}
		n = len(tok)
	}
	return (n + tokenMargin + 511) / 512 * 512, nil
}

// requestToken gets a token, checks that it time-stamps digest and
// returns it with the certificates it carries.
func requestToken(ctx context.Context, ts Timestamper, h crypto.Hash, digest []byte) ([]byte, []*x509.Certificate, error) {
	tok, err := ts.Timestamp(ctx, h, digest)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrTimestamp, err)
	}
	t, err := timestamp.Parse(tok)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: parse token: %v", ErrTimestamp, err)
	}
	if t.HashAlgorithm != h || !bytes.Equal(t.HashedMessage, digest) {
		return nil, nil, fmt.Errorf("%w: token does not time-stamp the requested digest", ErrTimestamp)
	}
	return tok, t.Certificates, nil
}

// SizedTimestamper wraps a Timestamper (such as Thiqa's in-process
// authority) and remembers the largest token it returned, so that
// reserving space for a token costs a probe only the first time.
type SizedTimestamper struct {
	Timestamper Timestamper

	mu   sync.Mutex
	size map[crypto.Hash]int
}

var (
	_ Timestamper = (*SizedTimestamper)(nil)
	_ TokenSizer  = (*SizedTimestamper)(nil)
)

// Timestamp calls the wrapped Timestamper and records the token size.
func (s *SizedTimestamper) Timestamp(ctx context.Context, h crypto.Hash, digest []byte) ([]byte, error) {
	tok, err := s.Timestamper.Timestamp(ctx, h, digest)
	if err == nil {
		s.mu.Lock()
		if s.size == nil {
			s.size = map[crypto.Hash]int{}
		}
		s.size[h] = max(s.size[h], len(tok))
		s.mu.Unlock()
	}
	return tok, err
}

// TokenSize returns the largest token size seen, probing once if none.
func (s *SizedTimestamper) TokenSize(ctx context.Context, h crypto.Hash) (int, error) {
	s.mu.Lock()
	n := s.size[h]
	s.mu.Unlock()
	if n > 0 {
		return n, nil
	}
	tok, err := s.Timestamp(ctx, h, make([]byte, h.Size()))
	return len(tok), err
}

// HTTPTimestamper is an RFC 3161 client over HTTP (RFC 3161 section 3.4).
// It asks for the TSA certificate in the token and checks the nonce.
type HTTPTimestamper struct {
	URL string
	// Client defaults to a client with a 10 s timeout.
	Client *http.Client
	// Rand gives nonces; nil means crypto/rand.
	Rand io.Reader
	// MaxResponse bounds the response size; zero means 64 KiB.
	MaxResponse int64

	mu   sync.Mutex
	size map[crypto.Hash]int
}

var (
	_ Timestamper = (*HTTPTimestamper)(nil)
	_ TokenSizer  = (*HTTPTimestamper)(nil)
)

var defaultClient = &http.Client{Timeout: 10 * time.Second}

// Timestamp asks the TSA for a token over digest.
func (c *HTTPTimestamper) Timestamp(ctx context.Context, h crypto.Hash, digest []byte) ([]byte, error) {
	r := c.Rand
	if r == nil {
		r = rand.Reader
	}
	nb := make([]byte, 8)
	if _, err := io.ReadFull(r, nb); err != nil {
		return nil, fmt.Errorf("time-stamp nonce: %w", err)
	}
	nonce := new(big.Int).SetBytes(nb)
	req, err := (&timestamp.Request{HashAlgorithm: h, HashedMessage: digest, Certificates: true, Nonce: nonce}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("time-stamp request: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("time-stamp request: %w", err)
	}
	hr.Header.Set("Content-Type", "application/timestamp-query")
	cl := c.Client
	if cl == nil {
		cl = defaultClient
	}
	resp, err := cl.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("time-stamp request: %w", err)
	}
	defer resp.Body.Close()
	max := c.MaxResponse
	if max <= 0 {
		max = 64 << 10
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("time-stamp response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("time-stamp response: HTTP %d", resp.StatusCode)
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("time-stamp response: larger than %d bytes", max)
	}
	t, err := timestamp.ParseResponse(body)
	if err != nil {
		return nil, fmt.Errorf("time-stamp response: %w", err)
	}
	if t.Nonce == nil || t.Nonce.Cmp(nonce) != 0 {
		return nil, fmt.Errorf("time-stamp response: nonce mismatch")
	}
	c.mu.Lock()
	if c.size == nil {
		c.size = map[crypto.Hash]int{}
	}
	if len(t.RawToken) > c.size[h] {
		c.size[h] = len(t.RawToken)
	}
	c.mu.Unlock()
	return t.RawToken, nil
}

// TokenSize returns the largest token size seen so far, asking the TSA
// once for a token over a zero digest when none was seen.
func (c *HTTPTimestamper) TokenSize(ctx context.Context, h crypto.Hash) (int, error) {
	c.mu.Lock()
	n := c.size[h]
	c.mu.Unlock()
	if n > 0 {
		return n, nil
	}
	tok, err := c.Timestamp(ctx, h, make([]byte, h.Size()))
	if err != nil {
		return 0, err
	}
	return len(tok), nil
}
