package api

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// agencyKey keys the request's agency in its context.
const agencyKey ctxKey = 101

// agencyOf authenticates an agency: an API key as the bearer token
// ("Authorization: Bearer thq_…") or a client certificate of mutual TLS
// registered as the agency's e-seal certificate.
func (s *Server) agencyOf(r *http.Request) (store.Agency, bool) {
	if s.Signing == nil {
		return store.Agency{}, false
	}
	if tok := sessionToken(r); strings.HasPrefix(tok, "thq_") {
		a, err := s.Signing.AuthenticateAgency(r.Context(), tok)
		return a, err == nil
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
		a, err := s.Signing.AuthenticateAgencyCert(r.Context(), r.TLS.PeerCertificates[0].Raw)
		return a, err == nil
	}
	return store.Agency{}, false
}

// withAgency returns r carrying the agency.
func withAgency(r *http.Request, a store.Agency) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), agencyKey, a))
}

// signingPrincipal is the signing service's view of the request's
// principal. Its IP, kept in evidence, is the client's address as
// ServeHTTP found it (behind a trusted reverse proxy, the address the
// proxy names, not the proxy's own).
func signingPrincipal(r *http.Request) signing.Principal {
	p := signing.Principal{IP: r.RemoteAddr}
	if ip, ok := r.Context().Value(clientIPKey).(string); ok && ip != "" {
		p.IP = ip
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		p.IP = host
	}
	if a, ok := r.Context().Value(agencyKey).(store.Agency); ok {
		p.Agency = &a
		return p
	}
	if c := who(r); c.Kind != "" {
		p.Citizen = &c
	}
	return p
}
