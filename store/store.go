// Package store persists Thiqa's records. [Bolt] is the embedded default, a
// single bbolt file that needs no setup; a PostgreSQL implementation of the
// same methods serves several replicas.
//
// The record types here are plain data. The packages that use the store
// (ca, enrollment, api, …) each declare the small interface of methods they
// need, and the store implementations satisfy them. Every write that returns
// without error is durable (fsynced) before it returns.
//
// This package must not import any other Thiqa package.
package store

import (
	"errors"
	"time"
)

// Errors shared by every store implementation.
var (
	ErrNotFound  = errors.New("store: not found")
	ErrDuplicate = errors.New("store: already exists")
	ErrConflict  = errors.New("store: state changed concurrently")
	// ErrLocked: another process holds the embedded store open.
	ErrLocked = errors.New("store: locked by another process")
)

// CertStatus is a certificate's revocation status.
type CertStatus string

// Certificate statuses. A revoked certificate never returns to valid; one on
// hold may.
const (
	StatusValid   CertStatus = "valid"
	StatusOnHold  CertStatus = "hold"
	StatusRevoked CertStatus = "revoked"
)

// Certificate is an issued certificate and its revocation state.
type Certificate struct {
	Serial    string     `json:"serial"` // lower-case hex, no leading zeros
	Issuer    string     `json:"issuer"` // name of the issuing authority
	Profile   string     `json:"profile"`
	Subject   string     `json:"subject"` // RFC 4514 string, for listings
	NotBefore time.Time  `json:"not_before"`
	NotAfter  time.Time  `json:"not_after"`
	IssuedAt  time.Time  `json:"issued_at"`
	DER       []byte     `json:"der"`
	Status    CertStatus `json:"status"`
	// RevokedAt and Reason (an RFC 5280 CRLReason) are set when Status is
	// not valid.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	Reason    int       `json:"reason,omitempty"`
	// Version counts changes of the record, starting at 1.
	Version int64 `json:"version"`
	// AuditPending, set on InsertCertificate or by UpdateCertificate's fn,
	// is kept pending audit in the change's own transaction (see
	// [CertAudit]); it is not part of the stored certificate.
	AuditPending *CertAudit `json:"-"`
}

// Authority is a certificate or service authority created by the key
// ceremony: a CA, the time-stamping unit, an OCSP responder.
type Authority struct {
	Name      string    `json:"name"`   // stable: "root", "citizen-ca", …
	Role      string    `json:"role"`   // "root-ca", "issuing-ca", "tsu", "ocsp"
	KeyID     string    `json:"key_id"` // in key custody
	Parent    string    `json:"parent"` // issuing authority's name, "" for the root
	CertDER   []byte    `json:"cert_der"`
	CreatedAt time.Time `json:"created_at"`
}

// Ceremony is what the key ceremony created: its configuration (opaque to
// the store) and its authorities. It is saved once, atomically.
type Ceremony struct {
	Config      []byte      `json:"config"`
	Authorities []Authority `json:"authorities"`
	CreatedAt   time.Time   `json:"created_at"`
	// AuditPending, when set, is kept pending audit in the ceremony's own
	// transaction ([PendingAudit]); it is not part of the stored ceremony.
	AuditPending *PendingAudit `json:"-"`
}

// CRL is a certificate revocation list as issued.
type CRL struct {
	Issuer     string    `json:"issuer"`
	Number     int64     `json:"number"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	DER        []byte    `json:"der"`
}

// Page selects a slice of an ordered listing: records whose key is after
// After (exclusive), at most Limit of them (0 means 100; at most 1000).
type Page struct {
	After string
	Limit int
}

func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return 100
	case p.Limit > 1000:
		return 1000
	}
	return p.Limit
}
