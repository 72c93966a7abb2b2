package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/thiqa/thiqa/store"
)

// Reason is an RFC 5280 CRLReason.
type Reason int

// Revocation reasons (RFC 5280 §5.3.1). 7 is unused and removeFromCRL (8)
// is only ever implied by a release from hold.
const (
	ReasonUnspecified          Reason = 0
	ReasonKeyCompromise        Reason = 1
	ReasonCACompromise         Reason = 2
	ReasonAffiliationChanged   Reason = 3
	ReasonSuperseded           Reason = 4
	ReasonCessationOfOperation Reason = 5
	ReasonCertificateHold      Reason = 6
	ReasonPrivilegeWithdrawn   Reason = 9
	ReasonAACompromise         Reason = 10
)

var reasonNames = map[Reason]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonCACompromise:         "cACompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
	ReasonCertificateHold:      "certificateHold",
	ReasonPrivilegeWithdrawn:   "privilegeWithdrawn",
	ReasonAACompromise:         "aACompromise",
}

func (r Reason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// ReasonNames lists the names ParseReason accepts, in code order.
func ReasonNames() []string {
	var codes []int
	for r := range reasonNames {
		codes = append(codes, int(r))
	}
	sort.Ints(codes)
	var out []string
	for _, c := range codes {
		out = append(out, reasonNames[Reason(c)])
	}
	return out
}

// ParseReason parses an RFC 5280 reason name, case-insensitively.
func ParseReason(s string) (Reason, error) {
	for r, n := range reasonNames {
		if strings.EqualFold(n, s) {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (one of %s)", ErrBadReason, s, strings.Join(ReasonNames(), ", "))
}

// Revoke revokes the certificate with the given serial for reason;
// ReasonCertificateHold suspends it instead (see Release). A revoked
// certificate is never reinstated: revoking it again is ErrAlreadyRevoked.
// The issuer's CRL is regenerated and the OCSP cache cleared before Revoke
// returns.
func (s *Service) Revoke(ctx context.Context, serial *big.Int, reason Reason) (store.Certificate, error) {
	if _, ok := reasonNames[reason]; !ok {
		return store.Certificate{}, fmt.Errorf("%w: %d", ErrBadReason, int(reason))
	}
	now := s.opts.now().UTC().Truncate(time.Second)
	return s.setStatus(ctx, serial, func(c *store.Certificate) error {
		switch {
		case c.Status == store.StatusRevoked:
			return fmt.Errorf("%w: %s (%s since %s)", ErrAlreadyRevoked, c.Serial, Reason(c.Reason), c.RevokedAt.Format(time.RFC3339))
		case c.Status == store.StatusOnHold && reason == ReasonCertificateHold:
			return fmt.Errorf("%w: %s is already on hold", ErrBadReason, c.Serial)
		case reason == ReasonCertificateHold:
			c.Status = store.StatusOnHold
		default:
			c.Status = store.StatusRevoked
		}
		c.RevokedAt, c.Reason = now, int(reason)
		return nil
	})
}

// Release takes a certificate off hold.
func (s *Service) Release(ctx context.Context, serial *big.Int) (store.Certificate, error) {
	return s.setStatus(ctx, serial, func(c *store.Certificate) error {
		if c.Status != store.StatusOnHold {
			return fmt.Errorf("%w: %s is %s", ErrNotOnHold, c.Serial, c.Status)
		}
		c.Status, c.RevokedAt, c.Reason = store.StatusValid, time.Time{}, 0
		return nil
	})
}

// statusAction is the audit action of a change to each status.
var statusAction = map[store.CertStatus]string{store.StatusRevoked: "ca.revoke", store.StatusOnHold: "ca.hold", store.StatusValid: "ca.release"}

func (s *Service) setStatus(ctx context.Context, serial *big.Int, fn func(*store.Certificate) error) (store.Certificate, error) {
	c, err := s.store.UpdateCertificate(ctx, SerialString(serial), func(c *store.Certificate) error {
		if err := fn(c); err != nil {
			return err
		}
		c.AuditPending = s.pendingAudit(ctx, s.opts.now().UTC(), statusAction[c.Status], map[string]string{"issuer": c.Issuer, "reason": Reason(c.Reason).String()})
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return c, fmt.Errorf("%w: certificate %s", ErrNotFound, SerialString(serial))
	}
	if err != nil {
		return c, err
	}
	s.changed(c.Serial)
	if err := s.recordChange(ctx, c.AuditPending); err != nil {
		return c, err
	}
	if err := s.RefreshCRL(ctx, c.Issuer); err != nil {
		return c, fmt.Errorf("certificate %s changed, but its CRL was not regenerated: %w", c.Serial, err)
	}
	return c, nil
}

// crlState coalesces CRL regenerations: a caller that asks while another
// generation is being built waits for the next one, and every caller that
// asked before a generation started is served by it.
type crlState struct {
	mu        sync.Mutex // guards requested
	requested uint64
	build     sync.Mutex // held while building; guards built
	built     uint64
}

// RefreshCRL issues a new CRL for the named CA, reflecting every status
// change committed before the call.
func (s *Service) RefreshCRL(ctx context.Context, name string) error {
	st, ok := s.crls[name]
	if !ok {
		return fmt.Errorf("%w: CA %q", ErrNotFound, name)
	}
	st.mu.Lock()
	st.requested++
	mine := st.requested
	st.mu.Unlock()

	st.build.Lock()
	defer st.build.Unlock()
	if st.built >= mine {
		return nil // a generation that started after our request covered it
	}
	st.mu.Lock()
	target := st.requested
	st.mu.Unlock()
	if _, err := s.issueCRL(ctx, name); err != nil {
		return err
	}
	st.built = target
	return nil
}

func (s *Service) issueCRL(ctx context.Context, name string) (store.CRL, error) {
	a := s.auth[name]
	var revoked []x509.RevocationListEntry
	if name == Root {
		// The root certifies only the ceremony's CAs; none is revoked
		// through Thiqa (a CA compromise is a new ceremony).
	} else {
		certs, err := s.store.RevokedCertificates(ctx, name)
		if err != nil {
			return store.CRL{}, fmt.Errorf("issue CRL for %s: %w", name, err)
		}
		for _, c := range certs {
			n, err := ParseSerial(c.Serial)
			if err != nil {
				return store.CRL{}, fmt.Errorf("issue CRL for %s: %w", name, err)
			}
			revoked = append(revoked, x509.RevocationListEntry{SerialNumber: n, RevocationTime: c.RevokedAt, ReasonCode: c.Reason})
		}
	}
	now := s.opts.now().UTC().Truncate(time.Second)
	return s.store.IssueCRL(ctx, name, func(number int64) (store.CRL, error) {
		tmpl := &x509.RevocationList{
			Number:                    big.NewInt(number),
			ThisUpdate:                now,
			NextUpdate:                now.Add(time.Duration(s.cfg.CRLValidity)),
			RevokedCertificateEntries: revoked,
		}
		der, err := x509.CreateRevocationList(s.opts.rand(), tmpl, a.cert, a.key)
		if err != nil {
			return store.CRL{}, err
		}
		return store.CRL{ThisUpdate: tmpl.ThisUpdate, NextUpdate: tmpl.NextUpdate, DER: der}, nil
	})
}

// CRL returns the latest CRL of the named CA, issuing a new one first when
// the latest is past half its validity.
func (s *Service) CRL(ctx context.Context, name string) (store.CRL, error) {
	if _, ok := s.crls[name]; !ok {
		return store.CRL{}, fmt.Errorf("%w: CA %q", ErrNotFound, name)
	}
	crl, err := s.store.LatestCRL(ctx, name)
	half := time.Duration(s.cfg.CRLValidity) / 2
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.opts.now().After(crl.ThisUpdate.Add(half))) {
		if err := s.RefreshCRL(ctx, name); err != nil {
			return store.CRL{}, err
		}
		crl, err = s.store.LatestCRL(ctx, name)
	}
	return crl, err
}

// RunCRLs regenerates every CA's CRL every interval (at most an hour) until
// ctx ends, so that CRLs are fresh even without revocations.
func (s *Service) RunCRLs(ctx context.Context, interval time.Duration, onError func(error)) {
	if interval <= 0 || interval > time.Hour {
		interval = time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for name := range s.crls {
				if err := s.RefreshCRL(ctx, name); err != nil && onError != nil {
					onError(err)
				}
			}
		}
	}
}
