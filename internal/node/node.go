// Package node opens a Thiqa node: the data directory with its key custody,
// store and trust services, opened together the same way by every command.
// It also composes the HTTP handler that `thiqa serve` serves. It may import
// every service package; only cmd/thiqa imports it.
package node

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/thiqa/thiqa/api"
	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/internal/backup"
	"github.com/thiqa/thiqa/internal/metrics"
	"github.com/thiqa/thiqa/internal/ocspwire"
	"github.com/thiqa/thiqa/oidc"
	"github.com/thiqa/thiqa/platform/payments"
	"github.com/thiqa/thiqa/platform/requests"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
	"github.com/thiqa/thiqa/web"
	"github.com/thiqa/thiqa/web/app"
)

// Options say where a node's data lives.
type Options struct {
	// Dir is the data directory (created 0700 when missing and Create is
	// set).
	Dir string
	// KEKFile holds the software key-encryption key; default Dir/kek.
	KEKFile string
	// KEK, when set, is the key-encryption key in base64 (from THIQA_KEK)
	// and KEKFile is not read.
	KEK string
	// Create allows creating the data directory, the KEK and the key
	// ceremony when they are missing.
	Create bool
	// HSM, when set, is the PKCS#11 URI of the token that holds the keys
	// (see package hsm/pkcs11); KEKFile and KEK are then not used.
	HSM string
	// CA configures a key ceremony run by Open; ignored when one exists.
	CA ca.Config
	// Clock, when set, replaces time.Now (tests).
	Clock func() time.Time
	// WebAuthnRPID and WebAuthnOrigins are the passkey relying party
	// (defaults "localhost" and "http://localhost:8080", for the pilot).
	WebAuthnRPID    string
	WebAuthnOrigins []string
	// Store, when set, is the postgres:// URL of a PostgreSQL database
	// shared by every replica, instead of the embedded store in Dir.
	Store string
	// Issuer is the OpenID provider's public issuer URL, the same on
	// every replica, served at /oidc (default: the first WebAuthn origin
	// + "/oidc", since its sign-in page must be on a passkey origin).
	// When set without WebAuthnRPID and WebAuthnOrigins, the passkey
	// relying party follows it (see resolveIssuer).
	Issuer string
	// ActivationCodeTTL is how long an activation code stays valid
	// (default 15 min, enrollment.Options.CodeTTL).
	ActivationCodeTTL time.Duration
	// MaxDocuments and MaxDocumentSize bound the PDFs of one sign request
	// (defaults 10 and 10 MiB, signing.Options).
	MaxDocuments    int
	MaxDocumentSize int64
	// RateLimits, when set, bound activation and sign-in attempts,
	// counted in the store (shared by replicas on PostgreSQL); thiqa
	// serve sets it. Nil counts nothing (tests, load tests).
	RateLimits *api.RateLimits
}

// Store is what every service needs of the store: *store.Bolt (the
// default, embedded in the data directory) or *store.Postgres (shared by
// replicas).
type Store interface {
	ca.Store
	audit.Store
	enrollment.Store
	signing.Store
	Close() error
}

var (
	_ Store = (*store.Bolt)(nil)
	_ Store = (*store.Postgres)(nil)
)

// openStore opens the PostgreSQL store when opts.Store names one, the
// embedded store in the data directory otherwise.
func openStore(ctx context.Context, opts Options) (Store, error) {
	switch {
	case opts.Store == "" || opts.Store == "bolt":
		return store.OpenBolt(filepath.Join(opts.Dir, "thiqa.db"))
	case strings.HasPrefix(opts.Store, "postgres://") || strings.HasPrefix(opts.Store, "postgresql://"):
		return store.OpenPostgres(ctx, opts.Store)
	}
	return nil, fmt.Errorf("store %q: want a postgres:// URL or bolt", opts.Store)
}

// Node is an open data directory.
type Node struct {
	Dir  string
	Keys hsm.Custody
	// Wrapped holds citizens' signing keys as wrapped blobs, in the same
	// custody as Keys.
	Wrapped   hsm.WrappedCustody
	closeKeys func() error
	Store     Store
	CA        *ca.Service
	// Audit is the tamper-evident audit log; its checkpoints are signed
	// with the custody key AuditKeyID.
	Audit *audit.Log
	// Enrollment is the registration authority: officers, enrollment,
	// activation and sign-in with passkeys.
	Enrollment *enrollment.Service
	// Signing runs agencies' sign requests and citizens' approvals.
	Signing *signing.Service
	// Requests runs citizens' service requests (OpenRequests).
	Requests *requests.Service
	// Payments collects fees (OpenPayments); nil without a gateway.
	Payments *payments.Service
	// OIDC is the OpenID Connect provider, served at /oidc; its issuer is
	// Options.Issuer. Nil on a store without relying parties.
	OIDC *oidc.Provider

	// Metrics are the node's Prometheus metrics, served at /metrics.
	Metrics *metrics.Metrics
	// Logger receives the API's structured log: one line per request
	// with its request ID (also sent as X-Request-Id), and internal errors
	// under the request ID their problem body names. Set it before
	// Handler; nil discards them.
	Logger *slog.Logger

	clock func() time.Time
	// limits are Options.RateLimits.
	limits *api.RateLimits
}

// oidcLimits bound the OpenID provider's unauthenticated requests with the
// same counters, window and client addresses as the API's sign-in limits,
// when serve sets them.
func oidcLimits(st Store, l *api.RateLimits) oidc.Limits {
	lim, ok := st.(oidc.Limiter)
	if !ok || l == nil {
		return oidc.Limits{}
	}
	return oidc.Limits{Limiter: lim, Window: l.Window, PerIP: l.PerIP, PerIdentity: l.PerNationalID, ClientIP: l.ClientIP}
}

// AuditKeyID names the custody key (ECDSA P-256) that signs the audit
// log's checkpoints; it is created on first use.
const AuditKeyID hsm.KeyID = "audit-log"

// Created reports what Open made that did not exist before.
type Created struct {
	Dir, KEK, Ceremony bool
}

// ErrLocked means another process (a running `thiqa serve`) holds the store.
var ErrLocked = errors.New("the store is in use by another thiqa process")

// Open opens (and with Create, initialises) the node in opts.Dir.
func Open(ctx context.Context, opts Options) (*Node, Created, error) {
	var created Created
	if opts.Dir == "" {
		return nil, created, errors.New("open node: no data directory")
	}
	if err := opts.resolveIssuer(); err != nil {
		return nil, created, fmt.Errorf("open node: %w", err)
	}
	if _, err := os.Stat(opts.Dir); errors.Is(err, os.ErrNotExist) {
		if !opts.Create {
			return nil, created, fmt.Errorf("open node: data directory %s does not exist (run thiqa init)", opts.Dir)
		}
		created.Dir = true
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, created, fmt.Errorf("open node: %w", err)
	}
	cust, err := openKeys(ctx, opts)
	if err != nil {
		return nil, created, fmt.Errorf("open node: %w", err)
	}
	created.KEK = cust.kekCreated
	m := metrics.New()
	keys := m.Custody(cust.keys)
	st, err := openStore(ctx, opts)
	if err != nil {
		cust.close()
		if errors.Is(err, store.ErrLocked) {
			return nil, created, fmt.Errorf("open node %s: %w", opts.Dir, ErrLocked)
		}
		return nil, created, fmt.Errorf("open node: %w", err)
	}
	n := &Node{Dir: opts.Dir, Keys: keys, Wrapped: cust.wrapped, closeKeys: cust.close, Store: st, Metrics: m, clock: opts.Clock, limits: opts.RateLimits}
	var counted *countedAudit
	n.Audit, err = openAudit(ctx, keys, st, opts.Clock, m)
	if err == nil {
		// The CA's and the signing service's events also count in the
		// metrics (signatures, issuance, revocations): see countedAudit.
		counted = &countedAudit{n.Audit, m}
		caOpts := ca.Options{Clock: opts.Clock, Audit: counted}
		n.CA, err = ca.Open(ctx, keys, st, caOpts)
		if errors.Is(err, ca.ErrNotInitialized) && opts.Create {
			n.CA, err = ca.Init(ctx, opts.CA, keys, st, caOpts)
			created.Ceremony = err == nil
		}
	}
	if err == nil {
		n.Enrollment, err = enrollment.New(st, keys, n.CA, enrollment.Options{RPID: opts.WebAuthnRPID, Origins: opts.WebAuthnOrigins, Clock: opts.Clock, Audit: n.Audit, Wrapped: m.Wrapped(n.Wrapped), Sealer: cust.sealer,
			CodeTTL: opts.ActivationCodeTTL})
	}
	if err == nil {
		n.Signing, err = signing.New(st, n.Enrollment, signing.CATrust(n.CA), signing.Options{Clock: opts.Clock, Audit: counted, VerifyBaseURL: verifyBaseURL(opts.Issuer),
			MaxDocuments: opts.MaxDocuments, MaxDocumentSize: opts.MaxDocumentSize})
	}
	if err == nil {
		// Copy into the audit log what a crash kept from it.
		err = n.CatchUpAudit(ctx, 0)
	}
	if err == nil {
		err = n.OpenRequests(nil)
	}
	// Both stores keep the OpenID provider's relying parties and its flow
	// state, which replicas on PostgreSQL share.
	clients, ok := st.(oidc.Clients)
	state, ok2 := st.(oidc.State)
	if ok && ok2 && err == nil {
		n.OIDC, err = oidc.New(ctx, opts.Issuer, oidc.Deps{Citizens: n.Enrollment, Clients: clients, Keys: keys, Audit: n.Audit, State: state},
			oidc.Options{Clock: opts.Clock, Limits: oidcLimits(st, opts.RateLimits)})
	}
	if err != nil {
		st.Close()
		cust.close()
		return nil, created, fmt.Errorf("open node: %w", err)
	}
	return n, created, nil
}

func openAudit(ctx context.Context, keys hsm.Custody, st audit.Store, clock func() time.Time, m *metrics.Metrics) (*audit.Log, error) {
	key, err := keys.Key(ctx, AuditKeyID)
	if errors.Is(err, hsm.ErrKeyNotFound) {
		key, err = keys.GenerateKey(ctx, AuditKeyID, hsm.ECDSAP256)
	}
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	return audit.New(st, key, audit.Options{Clock: clock, OnCommit: func(actions []string, took time.Duration) {
		m.StoreSeconds.WithLabelValues("audit_append").Observe(took.Seconds())
		for _, a := range actions {
			m.AuditEvents.WithLabelValues(a).Inc()
		}
	}})
}

// Close closes the store and the key custody.
func (n *Node) Close() error {
	if n.Requests != nil {
		n.Requests.Wait() // service requests' webhooks under way
	}
	err := n.Store.Close()
	if n.closeKeys != nil {
		n.closeKeys()
	}
	return err
}

// AdminSocket is the path of the node's local admin socket.
func (n *Node) AdminSocket() string { return AdminSocket(n.Dir) }

// AdminSocket is the path of the admin socket of the data directory dir.
func AdminSocket(dir string) string { return filepath.Join(dir, "admin.sock") }

// Handler is everything `thiqa serve` answers on its public address.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", n.CA.Handler())
	mux.Handle("/audit/", n.Audit.Handler())
	root, _ := n.CA.AuthorityCertificate(ca.Root)
	verifier := &validate.Validator{Options: validate.Options{TrustAnchors: []*x509.Certificate{root}, Clock: n.clock}}
	deps := api.Deps{Enrollment: n.Enrollment, Signing: n.Signing, CSC: n.Signing, Verifier: verifier}
	if n.Requests != nil {
		deps.Requests = n.Requests
	}
	if c := n.catalogue(); c != nil {
		deps.Catalogue = c
	}
	if n.Payments != nil {
		deps.Payments = n.Payments
	}
	apiOpts := api.Options{Logger: n.Logger}
	if lim, ok := n.Store.(api.RateLimiter); ok && n.limits != nil {
		apiOpts.Limiter, apiOpts.Limits = lim, *n.limits
	}
	apiSrv := api.New(deps, apiOpts)
	mux.Handle("/api/v1/", apiSrv)
	mux.Handle("/csc/v2/", apiSrv)
	n.mountPages(mux, verifier)
	if n.Requests != nil {
		mux.Handle(requests.PagePrefix, n.Requests.AgencyPages(n.agencyOf))
	}
	mux.Handle(app.Prefix, app.Handler())
	if n.OIDC != nil {
		mux.Handle("/oidc/", http.StripPrefix("/oidc", n.OIDC.Handler()))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", n.ready)
	mux.Handle("GET /metrics", n.Metrics.Handler())
	// OCSP goes around this mux too: a ServeMux redirects paths holding
	// "//", which unescaped base64 GET requests may contain.
	var h http.Handler = mux
	if lim, ok := n.Store.(api.RateLimiter); ok && n.limits != nil {
		// The pages' sign-in forms call the registration authority
		// directly: count them as the API counts its own.
		h = api.LimitPages(mux, lim, *n.limits, n.clock, limitedPages...)
		// The /verify/ page's uploads share the API's budget of
		// validations per address.
		h = api.LimitVerify(h, lim, *n.limits, n.clock, "/verify/")
	}
	return n.Metrics.Middleware(ocspwire.Mount(ca.OCSPPath, n.CA.OCSP(), h))
}

// limitedPages are the officers' sign-in forms outside /api/v1/, which
// count against the API's rate limits. (The OpenID provider limits its own
// pages: oidc.Limits.)
var limitedPages = []string{"/centre/signin", "/admin/signin"}

// mountPages mounts the officer console, the verification page and the
// admin pages (package web).
func (n *Node) mountPages(mux *http.ServeMux, verifier *validate.Validator) {
	var pages http.Handler
	pages, err := web.New(web.Deps{Enrollment: n.Enrollment, Verifier: verifier, Agencies: n.Signing, Registry: n.Signing}, web.Options{Clock: n.clock})
	if err != nil {
		pages = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "pages unavailable: "+err.Error(), http.StatusInternalServerError)
		})
	}
	for _, p := range web.Paths {
		mux.Handle(p, pages)
	}
}

// ready answers 200 when the store answers and the audit log can be read,
// 503 otherwise.
func (n *Node) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	start := time.Now()
	_, err := n.Store.AuditHead(r.Context())
	n.Metrics.StoreSeconds.WithLabelValues("ready").Observe(time.Since(start).Seconds())
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("store not ready\n"))
		return
	}
	w.Write([]byte("ready\n"))
}

// Backup writes a consistent backup of the node to w while it serves: a
// snapshot of the store, the wrapped keys and a manifest (see package
// internal/backup). The key-encryption key is not included.
func (n *Node) Backup(ctx context.Context, w io.Writer) (backup.Manifest, error) {
	var note []byte
	if c, err := n.Audit.Latest(ctx); err == nil {
		note = c.Note
	}
	b, ok := n.Store.(*store.Bolt)
	if !ok {
		return backup.Manifest{}, errors.New("backup: a PostgreSQL store is backed up with PostgreSQL's own tools (pg_basebackup and WAL archiving)")
	}
	return backup.Write(ctx, w, backup.Source{DB: b.DB(), KeysDir: filepath.Join(n.Dir, "keys"), AuditCheckpoint: note, Clock: n.clock})
}

// AdminHandler is everything `thiqa serve` answers on its admin socket: the
// CA's operator endpoints, GET /backup (a backup archive) and GET
// /audit/verify (audit.VerifyLive's result).
func (n *Node) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", n.CA.AdminHandler())
	mux.Handle("GET /audit/verify", n.Audit.VerifyHandler())
	platform := n.catalogueAdmin()
	mux.Handle("/catalogue/", platform)
	mux.Handle("/payments/", platform)
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-tar")
		// Errors after the first byte can only cut the stream short; the
		// client then finds no manifest and refuses the archive.
		n.Backup(r.Context(), w)
	})
	return mux
}
