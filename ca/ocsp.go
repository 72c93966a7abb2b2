package ca

import (
	"bytes"
	"context"
	"crypto"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/thiqa/thiqa/internal/ocspwire"
	"github.com/thiqa/thiqa/store"
)

// Responder is the RFC 6960 OCSP responder of the issuing CAs. Responses
// are signed by each CA's delegated OCSP certificate (id-pkix-ocsp-nocheck).
// Requests without a nonce are answered from a cache of pre-signed
// responses, re-signed after half their validity and dropped as soon as the
// certificate's status changes; requests with a nonce (RFC 8954) are signed
// afresh, echoing it.
type Responder struct {
	s       *Service
	issuers []*ocspIssuer

	mu    sync.RWMutex
	cache map[cacheKey]cachedResponse
	max   int
	// epoch counts invalidations. A response is cached only if no
	// invalidation happened while it was being made, so that a revocation
	// racing with a lookup can never leave a stale "good" in the cache.
	epoch atomic.Uint64
}

type ocspIssuer struct {
	ca     *authority
	signer *ocspSigner
	// issuer name and key hashes by hash algorithm, for matching CertIDs.
	nameHash, keyHash map[crypto.Hash][]byte
}

type cacheKey struct {
	serial string
	hash   crypto.Hash
}

type cachedResponse struct {
	der     []byte
	refresh time.Time
}

// ocspHashes are the CertID hash algorithms the responder accepts.
var ocspHashes = []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512}

// maxOCSPRequest bounds OCSP request bodies.
const maxOCSPRequest = 4 << 10

func newResponder(s *Service) (*Responder, error) {
	r := &Responder{s: s, cache: map[cacheKey]cachedResponse{}, max: 1 << 20}
	for _, name := range IssuingCAs {
		ca := s.auth[name]
		resp, ok := s.auth[OCSPPrefix+name]
		if !ok {
			return nil, fmt.Errorf("open authority: no OCSP responder for %s", name)
		}
		var spki struct {
			Algorithm asn1.RawValue
			PublicKey asn1.BitString
		}
		if _, err := asn1.Unmarshal(ca.cert.RawSubjectPublicKeyInfo, &spki); err != nil {
			return nil, fmt.Errorf("open OCSP responder for %s: %w", name, err)
		}
		signer, err := newOCSPSigner(resp.key, resp.cert)
		if err != nil {
			return nil, fmt.Errorf("open OCSP responder for %s: %w", name, err)
		}
		iss := &ocspIssuer{ca: ca, signer: signer, nameHash: map[crypto.Hash][]byte{}, keyHash: map[crypto.Hash][]byte{}}
		for _, h := range ocspHashes {
			hn := h.New()
			hn.Write(ca.cert.RawSubject)
			iss.nameHash[h] = hn.Sum(nil)
			hk := h.New()
			hk.Write(spki.PublicKey.RightAlign())
			iss.keyHash[h] = hk.Sum(nil)
		}
		r.issuers = append(r.issuers, iss)
	}
	return r, nil
}

// OCSP returns the service's OCSP responder.
func (s *Service) OCSP() *Responder { return s.ocsp }

func (r *Responder) invalidate(serial string) {
	r.epoch.Add(1)
	r.mu.Lock()
	for _, h := range ocspHashes {
		delete(r.cache, cacheKey{serial, h})
	}
	r.mu.Unlock()
}

// RunStatusSync follows the store's certificate change feed until ctx ends,
// dropping cached OCSP responses of certificates that another replica
// issued, revoked, held or released. With a poll interval of 250 ms a
// revocation anywhere is reflected here well within a second.
func (s *Service) RunStatusSync(ctx context.Context, interval time.Duration, onError func(error)) {
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	_, pos, err := s.store.CertificateChanges(ctx, 0)
	for err == nil { // skip to the end: the cache starts empty
		var changes []string
		var next uint64
		changes, next, err = s.store.CertificateChanges(ctx, pos)
		if len(changes) == 0 || next == pos {
			break
		}
		pos = next
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changes, next, err := s.store.CertificateChanges(ctx, pos)
		if err != nil {
			if onError != nil {
				onError(err)
			}
			continue
		}
		for _, serial := range changes {
			s.ocsp.invalidate(serial)
		}
		pos = next
	}
}

// Respond answers one DER OCSP request with a DER OCSP response. Requests
// that cannot be answered get an OCSP error response (malformedRequest,
// unauthorized), as RFC 6960 says; err is only for internal failures.
func (r *Responder) Respond(ctx context.Context, der []byte) ([]byte, error) {
	req, err := ocspwire.ParseRequest(der)
	if err != nil {
		return ocsp.MalformedRequestErrorResponse, nil
	}
	var iss *ocspIssuer
	for _, i := range r.issuers {
		if bytes.Equal(i.keyHash[req.HashAlgorithm], req.IssuerKeyHash) && bytes.Equal(i.nameHash[req.HashAlgorithm], req.IssuerNameHash) {
			iss = i
			break
		}
	}
	if iss == nil {
		return ocsp.UnauthorizedErrorResponse, nil
	}
	key := cacheKey{SerialString(req.SerialNumber), req.HashAlgorithm}
	now := r.s.opts.now()
	if req.Nonce == nil {
		r.mu.RLock()
		c, ok := r.cache[key]
		r.mu.RUnlock()
		if ok && now.Before(c.refresh) {
			return c.der, nil
		}
	}
	epoch := r.epoch.Load()
	resp, err := r.sign(ctx, iss, req, now)
	if err != nil {
		return nil, err
	}
	if req.Nonce == nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.epoch.Load() != epoch {
			return resp, nil // the status may have changed meanwhile: answer, don't cache
		}
		if len(r.cache) >= r.max {
			n := 0
			for k := range r.cache { // drop an arbitrary tenth
				delete(r.cache, k)
				if n++; n > r.max/10 {
					break
				}
			}
		}
		r.cache[key] = cachedResponse{der: resp, refresh: now.Add(time.Duration(r.s.cfg.OCSPValidity) / 2)}
	}
	return resp, nil
}

func (r *Responder) sign(ctx context.Context, iss *ocspIssuer, req *ocspwire.Request, now time.Time) ([]byte, error) {
	now = now.UTC().Truncate(time.Second)
	st := ocspStatus{code: 2}
	c, err := r.s.store.Certificate(ctx, SerialString(req.SerialNumber))
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Never issued here: unknown.
	case err != nil:
		return nil, fmt.Errorf("OCSP status of %s: %w", SerialString(req.SerialNumber), err)
	case c.Issuer != iss.ca.name:
		// Issued by another of our CAs: unknown for this issuer.
	case c.Status == store.StatusValid:
		st.code = 0
	default:
		st = ocspStatus{code: 1, revokedAt: c.RevokedAt, reason: c.Reason}
	}
	id := certID{hash: req.HashAlgorithm, nameHash: req.IssuerNameHash, keyHash: req.IssuerKeyHash, serial: req.SerialNumber}
	return iss.signer.sign(r.s.opts.rand(), id, st, now, now.Add(time.Duration(r.s.cfg.OCSPValidity)), req.Nonce)
}

// Status reports a certificate's status as the responder sees it, for
// operators and tests: "good", "revoked", "hold" or "unknown".
func (r *Responder) Status(ctx context.Context, serial *big.Int) (string, error) {
	c, err := r.s.store.Certificate(ctx, SerialString(serial))
	if errors.Is(err, store.ErrNotFound) {
		return "unknown", nil
	}
	if err != nil {
		return "", err
	}
	return map[store.CertStatus]string{store.StatusValid: "good", store.StatusRevoked: "revoked", store.StatusOnHold: "hold"}[c.Status], nil
}

// ServeHTTP answers OCSP over HTTP (RFC 6960 appendix A) at [OCSPPath]:
// POST with an application/ocsp-request body, or GET with the base64
// request in the path after OCSPPath.
func (r *Responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	der, err := ocspwire.ReadRequest(req, OCSPPath, maxOCSPRequest)
	if err != nil {
		writeOCSPReadError(w, err)
		return
	}
	resp, err := r.Respond(req.Context(), der)
	if err != nil {
		resp = ocsp.InternalErrorErrorResponse
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(resp)
}
