package payments

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/platform/seal"
	"github.com/thiqa/thiqa/store"
)

// Invoice is a fee to be paid.
type Invoice = store.Invoice

// Currency is the only currency: Jordanian dinars, amounts in fils.
const Currency = "JOD"

// Errors of the payments service. The API maps them to HTTP statuses.
var (
	ErrNotFound  = errors.New("payments: no such invoice")
	ErrInvalid   = errors.New("payments: invalid request")
	ErrForbidden = errors.New("payments: not the payer of this invoice")
	// ErrState: the invoice is not in a state that allows the operation
	// (paying a paid invoice, refunding an open one).
	ErrState = errors.New("payments: invoice state does not allow this")
	// ErrCallback: a callback that is not authentic (bad signature,
	// stale or replayed timestamp, malformed).
	ErrCallback = errors.New("payments: callback not authentic")
	// ErrMismatch: an authentic callback whose invoice, amount or
	// currency does not match Thiqa's invoice.
	ErrMismatch = errors.New("payments: callback does not match the invoice")
	// ErrGateway: the gateway failed or refused.
	ErrGateway = errors.New("payments: gateway error")
)

// Store is what payments needs of the store; *store.Bolt and
// *store.Postgres implement it.
type Store interface {
	InsertInvoice(ctx context.Context, inv store.Invoice) error
	Invoice(ctx context.Context, id string) (store.Invoice, error)
	InvoiceByReference(ctx context.Context, ref string) (store.Invoice, error)
	Invoices(ctx context.Context, p store.Page) ([]store.Invoice, error)
	UpdateInvoice(ctx context.Context, id, event string, fn func(*store.Invoice) error) (store.Invoice, error)
}

var (
	_ Store = (*store.Bolt)(nil)
	_ Store = (*store.Postgres)(nil)
)

// Event kinds a gateway reports in a callback.
const (
	EventPaid     = "payment.succeeded"
	EventDeclined = "payment.declined"
)

// Event is what a gateway's callback reports, once authenticated.
type Event struct {
	Kind       string
	TxnID      string
	InvoiceID  string
	AmountFils int64
	Currency   string
	At         time.Time
}

// Transaction is the gateway's record of a payment, for reconciliation.
type Transaction struct {
	ID           string    `json:"id"`
	InvoiceID    string    `json:"invoice_id"`
	AmountFils   int64     `json:"amount_fils"`
	RefundedFils int64     `json:"refunded_fils"`
	Currency     string    `json:"currency"`
	State        string    `json:"state"` // "succeeded", "declined"
	At           time.Time `json:"at"`
}

// Gateway is a payment gateway adapter.
type Gateway interface {
	// Name identifies the gateway in invoices.
	Name() string
	// Checkout registers the invoice at the gateway and returns the URL
	// of its checkout page; the citizen comes back to returnURL.
	Checkout(ctx context.Context, inv Invoice, returnURL string) (string, error)
	// ParseCallback authenticates a callback (headers and body) and
	// returns its event; an error wraps ErrCallback.
	ParseCallback(h http.Header, body []byte) (Event, error)
	// Refund gives back amount fils of transaction txn; key makes the
	// call idempotent. It returns the gateway's refund ID.
	Refund(ctx context.Context, txn string, amountFils int64, key string) (string, error)
	// Transactions lists the gateway's transactions.
	Transactions(ctx context.Context) ([]Transaction, error)
}

// Options configure a Service; the zero value is usable except for
// receipts, which need a Sealer.
type Options struct {
	Clock  func() time.Time
	Rand   io.Reader
	Logger *slog.Logger
	// Sealer seals receipts (the platform's e-seal).
	Sealer seal.Sealer
	// ReturnURL is where the gateway sends the citizen after paying.
	ReturnURL string
	// VerifyBaseURL, when set, puts a QR code of it followed by the
	// seal's identifier on receipts (the verification page).
	VerifyBaseURL string
	// Audit receives a record of every payment, refund and refused
	// callback (nil: none). Records name invoices, never citizens.
	Audit Auditor
}

// Auditor records events in the tamper-evident audit log (*audit.Log).
type Auditor interface {
	Append(ctx context.Context, e audit.Event) (audit.Receipt, error)
}

// audit records e when there is an audit log.
func (s *Service) audit(ctx context.Context, e audit.Event) error {
	if s.opts.Audit == nil {
		return nil
	}
	if _, err := s.opts.Audit.Append(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// pendingAudit returns the audit record of a change keyed event, to be
// kept pending audit in the change's transaction (nil without an audit
// log); the change's own append after the commit is
// audit.PendingEvent of it, and a crash in between is caught up by the
// node (audit.Log.CatchUp).
func (s *Service) pendingAudit(event, actor, action, subject string, details map[string]any) (*store.PendingAudit, error) {
	if s.opts.Audit == nil {
		return nil, nil
	}
	d, err := json.Marshal(details)
	if err != nil {
		return nil, fmt.Errorf("audit %s: %w", action, err)
	}
	return &store.PendingAudit{Source: "payments.event:" + event, At: s.opts.Clock().UTC(), Actor: actor, Action: action, Subject: subject, Details: d}, nil
}

// auditPending appends the record kept pending with a stored change.
func (s *Service) auditPending(ctx context.Context, p *store.PendingAudit) error {
	if p == nil {
		return nil
	}
	return s.audit(ctx, audit.PendingEvent(*p))
}

// Service runs invoices and payments. Safe for concurrent use.
type Service struct {
	st   Store
	gw   Gateway
	opts Options

	mu     sync.Mutex
	onPaid []func(context.Context, Invoice)
}

// New returns the payments service on st through gw.
func New(st Store, gw Gateway, opts Options) *Service {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, gw: gw, opts: opts}
}

// Gateway returns the service's gateway.
func (s *Service) Gateway() Gateway { return s.gw }

// InvoiceRequest asks for an invoice.
type InvoiceRequest struct {
	// Reference is what the fee is for (a service request's ID).
	Reference string
	// Payer is the national ID of the citizen who pays.
	Payer                        string
	DescriptionAr, DescriptionEn string
	AmountFils                   int64
}

// MaxAmountFils bounds an invoice: one million dinars.
const MaxAmountFils = 1_000_000_000

// CreateInvoice makes the invoice for req.Reference, or returns the one
// already made for it when it has the same payer and amount (a retry);
// otherwise it fails with ErrState.
func (s *Service) CreateInvoice(ctx context.Context, req InvoiceRequest) (Invoice, error) {
	fail := func(err error) (Invoice, error) { return Invoice{}, fmt.Errorf("create invoice: %w", err) }
	switch {
	case req.Reference == "" || len(req.Reference) > 128 || req.Payer == "" || len(req.Payer) > 64:
		return fail(fmt.Errorf("%w: reference and payer are required", ErrInvalid))
	case req.AmountFils <= 0 || req.AmountFils > MaxAmountFils:
		return fail(fmt.Errorf("%w: amount %d fils: want 1 to %d", ErrInvalid, req.AmountFils, MaxAmountFils))
	case !utf8.ValidString(req.DescriptionAr) || !utf8.ValidString(req.DescriptionEn) || len(req.DescriptionAr)+len(req.DescriptionEn) > 2000:
		return fail(fmt.Errorf("%w: description", ErrInvalid))
	}
	id, err := s.newID("inv_")
	if err != nil {
		return fail(err)
	}
	inv := Invoice{ID: id, Reference: req.Reference, Payer: req.Payer, DescriptionAr: req.DescriptionAr,
		DescriptionEn: req.DescriptionEn, AmountFils: req.AmountFils, Currency: Currency, State: store.InvoiceOpen,
		Gateway: s.gw.Name(), Created: s.opts.Clock().UTC()}
	err = s.st.InsertInvoice(ctx, inv)
	if errors.Is(err, store.ErrDuplicate) {
		old, err := s.st.InvoiceByReference(ctx, req.Reference)
		if err != nil {
			return fail(err)
		}
		if old.Payer != req.Payer || old.AmountFils != req.AmountFils {
			return fail(fmt.Errorf("%w: reference %s already has an invoice of %d fils", ErrState, req.Reference, old.AmountFils))
		}
		return old, nil
	}
	if err != nil {
		return fail(err)
	}
	inv.Version = 1
	s.opts.Logger.Info("invoice created", "invoice", inv.ID, "reference", inv.Reference, "amount_fils", inv.AmountFils)
	return inv, nil
}

func (s *Service) newID(prefix string) (string, error) {
	b := make([]byte, 12)
	if _, err := io.ReadFull(s.opts.Rand, b); err != nil {
		return "", err
	}
	return prefix + hex.EncodeToString(b), nil
}

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// Invoice returns the invoice id.
func (s *Service) Invoice(ctx context.Context, id string) (Invoice, error) {
	inv, err := s.st.Invoice(ctx, id)
	return inv, notFound(err)
}

// InvoiceByReference returns the invoice made for reference.
func (s *Service) InvoiceByReference(ctx context.Context, ref string) (Invoice, error) {
	inv, err := s.st.InvoiceByReference(ctx, ref)
	return inv, notFound(err)
}

// Paid reports whether invoice id is paid (and not wholly refunded).
func (s *Service) Paid(ctx context.Context, id string) (bool, error) {
	inv, err := s.Invoice(ctx, id)
	if err != nil {
		return false, err
	}
	return inv.State == store.InvoicePaid, nil
}

// OnPaid registers fn to be called, on the replica that received the
// gateway's callback, after an invoice's payment is durable. fn runs once
// per payment, synchronously before the callback is answered, so it
// should be quick; a process that stops in between does not call it, so
// whoever must not miss a payment also asks [Service.Paid].
func (s *Service) OnPaid(fn func(ctx context.Context, inv Invoice)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onPaid = append(s.onPaid, fn)
}

// Checkout returns the gateway's checkout page for invoice id, which
// payer (a national ID) must be the payer of and which must be open.
func (s *Service) Checkout(ctx context.Context, id, payer string) (string, error) {
	inv, err := s.Invoice(ctx, id)
	if err != nil {
		return "", fmt.Errorf("checkout: %w", err)
	}
	if inv.Payer != payer {
		return "", fmt.Errorf("checkout: %w", ErrForbidden)
	}
	if inv.State != store.InvoiceOpen {
		return "", fmt.Errorf("checkout: %w: the invoice is %s", ErrState, inv.State)
	}
	url, err := s.gw.Checkout(ctx, inv, s.opts.ReturnURL)
	if err != nil {
		return "", fmt.Errorf("checkout: %w: %w", ErrGateway, err)
	}
	return url, nil
}

// HandleCallback applies a gateway callback. It returns the invoice as it
// is afterwards. A callback already applied returns the invoice with no
// error and changes nothing, so the gateway may deliver it again.
func (s *Service) HandleCallback(ctx context.Context, h http.Header, body []byte) (Invoice, error) {
	log := s.opts.Logger
	ev, err := s.gw.ParseCallback(h, body)
	if err != nil {
		// Not authentic: logged, not audited, so that anyone able to
		// reach the endpoint cannot fill the audit log.
		log.Warn("payment callback refused", "reason", err.Error())
		return Invoice{}, fmt.Errorf("payment callback: %w", err)
	}
	log = log.With("invoice", ev.InvoiceID, "txn", ev.TxnID, "event", ev.Kind)
	if ev.Kind == EventDeclined {
		log.Info("payment declined at the gateway")
		inv, err := s.Invoice(ctx, ev.InvoiceID)
		if err != nil {
			return Invoice{}, fmt.Errorf("payment callback: %w: %w", ErrMismatch, err)
		}
		return inv, nil
	}
	if ev.Kind != EventPaid || ev.TxnID == "" {
		return Invoice{}, s.refused(ctx, ev, fmt.Errorf("payment callback: %w: event %q", ErrCallback, ev.Kind))
	}
	inv, err := s.st.UpdateInvoice(ctx, ev.InvoiceID, "pay:"+ev.TxnID, func(inv *Invoice) error {
		switch {
		case inv.Gateway != s.gw.Name():
			return fmt.Errorf("%w: the invoice is payable through %q, not %q", ErrMismatch, inv.Gateway, s.gw.Name())
		case ev.Currency != inv.Currency || ev.AmountFils != inv.AmountFils:
			return fmt.Errorf("%w: %d %s paid, invoice is %d %s", ErrMismatch, ev.AmountFils, ev.Currency, inv.AmountFils, inv.Currency)
		case inv.State != store.InvoiceOpen:
			return fmt.Errorf("%w: the invoice is already %s (transaction %s)", ErrState, inv.State, inv.GatewayTxn)
		}
		inv.State, inv.GatewayTxn, inv.Paid = store.InvoicePaid, ev.TxnID, s.opts.Clock().UTC()
		var err error
		inv.AuditPending, err = s.pendingAudit("pay:"+ev.TxnID, "gateway:"+s.gw.Name(), "payment.paid", inv.ID,
			map[string]any{"transaction": ev.TxnID, "amount_fils": inv.AmountFils, "currency": inv.Currency, "reference": inv.Reference})
		return err
	})
	switch {
	case errors.Is(err, store.ErrDuplicate):
		log.Info("payment callback delivered again; already applied")
		return inv, nil
	case errors.Is(err, store.ErrNotFound):
		return Invoice{}, s.refused(ctx, ev, fmt.Errorf("payment callback: %w: no invoice %q", ErrMismatch, ev.InvoiceID))
	case errors.Is(err, ErrMismatch), errors.Is(err, ErrState):
		return Invoice{}, s.refused(ctx, ev, fmt.Errorf("payment callback: %w", err))
	case err != nil:
		return Invoice{}, fmt.Errorf("payment callback: %w", err)
	}
	log.Info("invoice paid", "amount_fils", inv.AmountFils)
	if err := s.auditPending(ctx, inv.AuditPending); err != nil {
		return inv, err
	}
	s.mu.Lock()
	fns := append([]func(context.Context, Invoice){}, s.onPaid...)
	s.mu.Unlock()
	for _, fn := range fns {
		fn(ctx, inv)
	}
	return inv, nil
}

// refused logs and audits a refused authentic callback and returns err.
func (s *Service) refused(ctx context.Context, ev Event, err error) error {
	s.opts.Logger.Warn("payment callback refused", "invoice", ev.InvoiceID, "txn", ev.TxnID, "reason", err.Error())
	if aerr := s.audit(ctx, audit.Event{Actor: "gateway:" + s.gw.Name(), Action: "payment.callback.refused", Subject: ev.InvoiceID,
		Details: map[string]any{"transaction": ev.TxnID, "amount_fils": ev.AmountFils, "currency": ev.Currency, "reason": err.Error()}}); aerr != nil {
		return errors.Join(err, aerr)
	}
	return err
}

// Refund gives back amountFils of paid invoice id through the gateway
// (partial refunds allowed, up to what was paid) and records it; by names
// who asked ("officer:<username>"), for the record and the audit log.
func (s *Service) Refund(ctx context.Context, id string, amountFils int64, reason, by string) (Invoice, error) {
	fail := func(err error) (Invoice, error) { return Invoice{}, fmt.Errorf("refund: %w", err) }
	inv, err := s.Invoice(ctx, id)
	if err != nil {
		return fail(err)
	}
	switch {
	case utf8.RuneCountInString(reason) > 500 || !utf8.ValidString(reason):
		return fail(fmt.Errorf("%w: reason longer than 500 characters", ErrInvalid))
	case amountFils <= 0:
		return fail(fmt.Errorf("%w: amount %d fils", ErrInvalid, amountFils))
	case inv.State != store.InvoicePaid:
		return fail(fmt.Errorf("%w: the invoice is %s", ErrState, inv.State))
	case amountFils > inv.AmountFils-inv.RefundedFils:
		return fail(fmt.Errorf("%w: %d fils left to refund", ErrInvalid, inv.AmountFils-inv.RefundedFils))
	}
	key := fmt.Sprintf("%s-%d-%d", inv.ID, len(inv.Refunds)+1, amountFils)
	refundID, err := s.gw.Refund(ctx, inv.GatewayTxn, amountFils, key)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrGateway, err))
	}
	inv, err = s.st.UpdateInvoice(ctx, id, "refund:"+refundID, func(inv *Invoice) error {
		if amountFils > inv.AmountFils-inv.RefundedFils {
			return fmt.Errorf("%w: %d fils left to refund", ErrInvalid, inv.AmountFils-inv.RefundedFils)
		}
		inv.RefundedFils += amountFils
		inv.Refunds = append(inv.Refunds, store.Refund{ID: refundID, AmountFils: amountFils, Reason: reason, By: by, At: s.opts.Clock().UTC()})
		if inv.RefundedFils == inv.AmountFils {
			inv.State = store.InvoiceRefunded
		}
		var err error
		inv.AuditPending, err = s.pendingAudit("refund:"+refundID, by, "payment.refund", id,
			map[string]any{"refund": refundID, "amount_fils": amountFils, "reason": reason})
		return err
	})
	if errors.Is(err, store.ErrDuplicate) {
		return inv, nil
	}
	if err != nil {
		return fail(err)
	}
	s.opts.Logger.Info("invoice refunded", "invoice", id, "refund", refundID, "amount_fils", amountFils, "by", by)
	if err := s.auditPending(ctx, inv.AuditPending); err != nil {
		return inv, err
	}
	return inv, nil
}
