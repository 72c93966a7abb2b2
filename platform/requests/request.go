package requests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// View is a service request as shown to its citizen and its agency.
type View struct {
	ID           string                    `json:"id"`
	Service      string                    `json:"service"`
	Agency       string                    `json:"agency"`
	NationalID   string                    `json:"national_id"`
	State        string                    `json:"state"`
	FormSHA256   []byte                    `json:"form_sha256"`
	SignRequest  string                    `json:"sign_request,omitempty"`
	FeeFils      int64                     `json:"fee_fils"`
	Invoice      string                    `json:"invoice,omitempty"`
	Sealed       bool                      `json:"sealed"`
	ResultSHA256 []byte                    `json:"result_sha256,omitempty"`
	Reason       string                    `json:"reason,omitempty"`
	Created      time.Time                 `json:"created"`
	Updated      time.Time                 `json:"updated"`
	Transitions  []store.RequestTransition `json:"transitions"`
}

func view(r store.ServiceRequest) View {
	t := r.Transitions
	if t == nil {
		t = []store.RequestTransition{}
	}
	return View{ID: r.ID, Service: r.Service, Agency: r.Agency, NationalID: r.NationalID, State: r.State,
		FormSHA256: r.FormSHA256, SignRequest: r.SignRequest, FeeFils: r.FeeFils, Invoice: r.Invoice, Sealed: r.Sealed,
		ResultSHA256: r.ResultSHA256, Reason: r.Reason, Created: r.Created, Updated: r.Updated, Transitions: t}
}

// maxCode bounds a service code.
const maxCode = 64

// Open opens a request of the citizen for the service of the code: it
// writes the application form, asks the citizen to sign it (when the
// service requires a signature) and raises the invoice of the fee.
func (s *Service) Open(ctx context.Context, by Principal, code string) (View, error) {
	fail := func(err error) (View, error) { return View{}, fmt.Errorf("open service request: %w", err) }
	if !isCitizen(by) {
		return fail(fmt.Errorf("%w: only a citizen opens a request", ErrForbidden))
	}
	code = strings.TrimSpace(code)
	if code == "" || len(code) > maxCode || !utf8.ValidString(code) {
		return fail(fmt.Errorf("%w: service code must be 1 to %d bytes", ErrInvalid, maxCode))
	}
	svc, err := s.d.Catalogue.Lookup(ctx, code)
	if err != nil {
		return fail(err)
	}
	if svc.AtCentre {
		return fail(fmt.Errorf("%w: service %s is delivered at a service centre, not requested online", ErrInvalid, code))
	}
	if svc.AgencyID == "" {
		return fail(fmt.Errorf("%w: service %s has no agency that decides it", ErrNotFound, code))
	}
	if svc.FeeFils > 0 && s.d.Payments == nil {
		return fail(errors.New("service has a fee and no payments are configured"))
	}
	if svc.Sealed && s.d.Sealer == nil {
		return fail(errors.New("service seals its results and no sealer is configured"))
	}
	me, err := s.d.Identities.Me(ctx, *by.Citizen)
	if err != nil {
		return fail(err)
	}
	id, err := s.randomID()
	if err != nil {
		return fail(err)
	}
	now := s.now()
	form := Form(FormData{RequestID: id, ServiceCode: svc.Code, ServiceNameEn: svc.NameEn, ServiceNameAr: svc.NameAr,
		AgencyName: svc.AgencyName, GivenName: me.GivenName, Surname: me.Surname, GivenNameAr: me.GivenNameAr,
		SurnameAr: me.SurnameAr, NationalID: by.Citizen.NationalID, FeeFils: svc.FeeFils, Created: now,
		RequiredDocuments: svc.RequiredDocuments})
	sum := sha256.Sum256(form)
	r := store.ServiceRequest{ID: id, Service: svc.Code, Agency: svc.AgencyID, NationalID: by.Citizen.NationalID,
		State: store.RequestOpened, FormSHA256: sum[:], FormBlob: "form/" + id, FeeFils: svc.FeeFils, Sealed: svc.Sealed,
		Created: now, Updated: now,
		Transitions: []store.RequestTransition{{At: now, By: actor(by), To: store.RequestOpened}}}
	if svc.SignatureRequired {
		sr, _, err := s.d.Signing.Create(ctx, by, signing.NewRequest{
			PurposeAr: "طلب خدمة: " + svc.NameAr, PurposeEn: "Application for " + svc.NameEn,
			Documents: []signing.NewDocument{{Name: "application-" + id + ".pdf", Content: form,
				Level: signer.LevelBLT.String(), Visible: true, Reason: "Application " + id, Location: "Jordan"}},
			IdempotencyKey: "service-request:" + id})
		if err != nil {
			return fail(err)
		}
		r.SignRequest = sr.ID
	}
	if svc.FeeFils > 0 {
		if r.Invoice, err = s.d.Payments.Invoice(ctx, id, by.Citizen.NationalID, svc.FeeFils, svc.Code+" "+svc.NameAr, svc.Code+" "+svc.NameEn); err != nil {
			return fail(err)
		}
	}
	var (
		stored  store.ServiceRequest
		pending *store.PendingAudit
	)
	err = s.d.Store.RequestsUpdate(ctx, func(tx store.RequestsTx) error {
		if err := tx.PutRequestBlob(r.FormBlob, form); err != nil && !errors.Is(err, store.ErrDuplicate) {
			return err
		}
		var err error
		if stored, err = tx.PutServiceRequest(r); err != nil {
			return err
		}
		pending, err = s.keepAudit(tx, by, stored, stored.Transitions[0])
		return err
	})
	if err != nil {
		return fail(err)
	}
	r = stored
	if err := s.recorded(ctx, pending, r, r.Transitions[0]); err != nil {
		return fail(err)
	}
	return view(r), nil
}

// load returns a request that by may see.
func (s *Service) load(ctx context.Context, by Principal, id string) (store.ServiceRequest, error) {
	if id == "" || len(id) > 64 {
		return store.ServiceRequest{}, fmt.Errorf("%w: service request", ErrNotFound)
	}
	var r store.ServiceRequest
	err := s.d.Store.RequestsView(ctx, func(tx store.RequestsTx) (err error) {
		r, err = tx.ServiceRequest(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return r, fmt.Errorf("%w: service request %s", ErrNotFound, id)
	}
	if err != nil {
		return r, err
	}
	return r, maySee(by, r)
}

// Get returns a request that by may see.
func (s *Service) Get(ctx context.Context, by Principal, id string) (View, error) {
	r, err := s.load(ctx, by, id)
	if err != nil {
		return View{}, fmt.Errorf("get service request: %w", err)
	}
	return view(r), nil
}

// List returns the citizen's requests, newest first.
func (s *Service) List(ctx context.Context, by Principal) ([]View, error) {
	if !isCitizen(by) {
		return nil, fmt.Errorf("list service requests: %w", ErrForbidden)
	}
	var rs []store.ServiceRequest
	err := s.d.Store.RequestsView(ctx, func(tx store.RequestsTx) (err error) {
		rs, err = tx.ServiceRequestsOf(by.Citizen.NationalID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list service requests: %w", err)
	}
	out := make([]View, 0, len(rs))
	for i := len(rs) - 1; i >= 0; i-- {
		out = append(out, view(rs[i]))
	}
	return out, nil
}

// States lists the states of a request.
var States = []string{store.RequestOpened, store.RequestSubmitted, store.RequestAccepted, store.RequestRejected, store.RequestCancelled}

// QueueStates lists the states of an agency's queue: those of requests
// submitted to it.
var QueueStates = []string{store.RequestSubmitted, store.RequestAccepted, store.RequestRejected}

// Queue lists the agency's requests in a state (default submitted),
// oldest first, after the cursor (the Next of the previous page).
type Queue struct {
	Requests []View `json:"requests"`
	// Next is the cursor of the next page; empty on the last.
	Next string `json:"next,omitempty"`
}

// Queue returns a page of the agency's queue.
func (s *Service) Queue(ctx context.Context, by Principal, state, after string, limit int) (Queue, error) {
	fail := func(err error) (Queue, error) { return Queue{}, fmt.Errorf("agency queue: %w", err) }
	if !isAgency(by) {
		return fail(fmt.Errorf("%w: only an agency has a queue", ErrForbidden))
	}
	if state == "" {
		state = store.RequestSubmitted
	}
	if !agencyStates[state] || len(after) > 200 || limit < 0 || limit > 1000 {
		return fail(fmt.Errorf("%w: state must be one of %s, after at most 200 bytes, limit 0 to 1000", ErrInvalid, strings.Join(QueueStates, ", ")))
	}
	if limit == 0 {
		limit = 100
	}
	var rs []store.ServiceRequest
	err := s.d.Store.RequestsView(ctx, func(tx store.RequestsTx) (err error) {
		rs, err = tx.AgencyQueue(by.Agency.ID, state, store.Page{After: after, Limit: limit})
		return err
	})
	if err != nil {
		return fail(err)
	}
	q := Queue{Requests: make([]View, len(rs))}
	for i, r := range rs {
		q.Requests[i] = view(r)
	}
	if len(rs) == limit {
		q.Next = rs[len(rs)-1].QueueKey()
	}
	return q, nil
}

// move changes a request's state from one of from to `to` in one
// compare-and-set transaction: check may refuse (or amend the record)
// with the current record in hand, and blobs are written in the same
// transaction. The transition is then audited and sent to the agency.
func (s *Service) move(ctx context.Context, by Principal, id string, from []string, to, reason string,
	check func(*store.ServiceRequest) error, blobs map[string][]byte) (store.ServiceRequest, error) {
	var out store.ServiceRequest
	var tr store.RequestTransition
	var pending *store.PendingAudit
	err := s.d.Store.RequestsUpdate(ctx, func(tx store.RequestsTx) error {
		r, err := tx.ServiceRequest(id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: service request %s", ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		if err := maySee(by, r); err != nil {
			return err
		}
		allowed := false
		for _, f := range from {
			allowed = allowed || r.State == f
		}
		if !allowed {
			return fmt.Errorf("%w: the request is %s, cannot become %s", ErrState, r.State, to)
		}
		if check != nil {
			if err := check(&r); err != nil {
				return err
			}
		}
		for k, b := range blobs {
			if err := tx.PutRequestBlob(k, b); err != nil {
				return err
			}
		}
		now := s.now()
		tr = store.RequestTransition{At: now, By: actor(by), From: r.State, To: to, Reason: reason}
		r.Transitions = append(r.Transitions, tr)
		r.State, r.Updated = to, now
		if out, err = tx.PutServiceRequest(r); err != nil {
			return err
		}
		pending, err = s.keepAudit(tx, by, out, tr)
		return err
	})
	if err != nil {
		return out, err
	}
	return out, s.recorded(ctx, pending, out, tr)
}

// keepAudit keeps the audit record of transition tr of r (as just
// stored in tx) pending audit in tx and returns it; nil without an audit
// log. Its source names the request's version, so a crash before the
// append after the commit is caught up once (audit.Log.CatchUp).
func (s *Service) keepAudit(tx store.RequestsTx, by Principal, r store.ServiceRequest, tr store.RequestTransition) (*store.PendingAudit, error) {
	if s.d.Audit == nil {
		return nil, nil
	}
	details, err := json.Marshal(struct {
		store.RequestTransition
		Service string `json:"service"`
		Agency  string `json:"agency"`
		IP      string `json:"ip,omitempty"`
	}{tr, r.Service, r.Agency, by.IP})
	if err != nil {
		return nil, fmt.Errorf("audit transition to %s: %w", tr.To, err)
	}
	p := store.PendingAudit{Source: fmt.Sprintf("requests.transition:%s/%d", r.ID, r.Version), At: tr.At,
		Actor: actor(by), Action: "service-request." + tr.To, Subject: "service-request:" + r.ID, Details: details}
	if err := tx.PutPendingAudit(p); err != nil {
		return nil, err
	}
	return &p, nil
}

// recorded audits a stored transition (pending: its record, nil without
// an audit log) and sends it to the agency's webhook.
func (s *Service) recorded(ctx context.Context, pending *store.PendingAudit, r store.ServiceRequest, tr store.RequestTransition) error {
	if pending != nil {
		if _, err := s.d.Audit.Append(ctx, audit.PendingEvent(*pending)); err != nil {
			return fmt.Errorf("audit transition to %s: %w", tr.To, err)
		}
	}
	s.notify(r, tr)
	return nil
}

// Cancel withdraws an opened request (its citizen only).
func (s *Service) Cancel(ctx context.Context, by Principal, id string) (View, error) {
	if !isCitizen(by) {
		return View{}, fmt.Errorf("cancel service request: %w", ErrForbidden)
	}
	r, err := s.move(ctx, by, id, []string{store.RequestOpened}, store.RequestCancelled, "", nil, nil)
	if err != nil {
		return View{}, fmt.Errorf("cancel service request: %w", err)
	}
	return view(r), nil
}

// Reject records the agency's refusal of a submitted request, with a
// reason (required, at most 1000 characters).
func (s *Service) Reject(ctx context.Context, by Principal, id, reason string) (View, error) {
	fail := func(err error) (View, error) { return View{}, fmt.Errorf("reject service request: %w", err) }
	if !isAgency(by) {
		return fail(fmt.Errorf("%w: only the agency decides", ErrForbidden))
	}
	reason, err := checkReason(reason, true)
	if err != nil {
		return fail(err)
	}
	r, err := s.move(ctx, by, id, []string{store.RequestSubmitted}, store.RequestRejected, reason,
		func(r *store.ServiceRequest) error { r.Reason = reason; return nil }, nil)
	if err != nil {
		return fail(err)
	}
	return view(r), nil
}

func checkReason(v string, required bool) (string, error) {
	v = strings.TrimSpace(v)
	if (required && v == "") || !utf8.ValidString(v) || utf8.RuneCountInString(v) > 1000 || strings.ContainsRune(v, 0) {
		return "", fmt.Errorf("%w: reason must be 1 to 1000 characters", ErrInvalid)
	}
	return v, nil
}

// checkPDF checks an uploaded document.
func (s *Service) checkPDF(what string, b []byte) error {
	if int64(len(b)) > s.opts.MaxDocumentSize {
		return fmt.Errorf("%w: %s is %d bytes, at most %d", ErrTooLarge, what, len(b), s.opts.MaxDocumentSize)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		return fmt.Errorf("%w: %s is not a PDF", ErrInvalid, what)
	}
	return nil
}
