package enrollment

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/store"
)

// ImportRecord is an identity proofed outside Thiqa (a national registry, a
// previous system), to be imported in bulk with [Service.Import]. Its JSON
// names are also the CSV header of `thiqa admin import-identities`.
type ImportRecord struct {
	NationalID  string `json:"national_id"`
	GivenName   string `json:"given_name"`
	Surname     string `json:"surname"`
	GivenNameAr string `json:"given_name_ar"`
	SurnameAr   string `json:"surname_ar"`
	DateOfBirth string `json:"date_of_birth"` // YYYY-MM-DD
	DocType     string `json:"doc_type"`      // national-id-card or passport
	DocNumber   string `json:"doc_number"`
	DocExpiry   string `json:"doc_expiry"` // YYYY-MM-DD
	// Centre is the code of a centre that exists in Thiqa; it decides
	// which officers may act on the identity afterwards.
	Centre string `json:"centre"`
	// Officer names who proofed the identity in the source system (it
	// need not be a Thiqa account).
	Officer string `json:"officer"`
	// Method is how the identity was proofed (e.g. "in-person"); Result
	// must be "pass": only proofed identities are imported.
	Method string `json:"method"`
	Result string `json:"result"`
	// ProofedAt is when, in RFC 3339.
	ProofedAt string `json:"proofed_at"`
}

// ImportFields are the fields of an [ImportRecord] in their CSV order.
var ImportFields = []string{"national_id", "given_name", "surname", "given_name_ar", "surname_ar", "date_of_birth",
	"doc_type", "doc_number", "doc_expiry", "centre", "officer", "method", "result", "proofed_at"}

// ImportPurpose marks the enrollment records written by [Service.Import].
const ImportPurpose = "import"

// ImportOutcome is what [Service.Import] did with one record.
type ImportOutcome int

// Import outcomes.
const (
	// Imported: a new identity in state enrolled, with its record.
	Imported ImportOutcome = iota
	// Skipped: an identity with that national number exists already
	// (imported by an earlier run, or enrolled at a centre); nothing was
	// written. This makes an interrupted import resumable by running it
	// again.
	Skipped
	// Refused: the record is malformed; Err says why and nothing was
	// written for it.
	Refused
)

// ImportResult is the outcome of each record of a batch, in order.
type ImportResult struct {
	Outcomes []ImportOutcome
	// Errs holds, for each Refused record, why (an ErrInvalid or
	// ErrNotFound); nil otherwise.
	Errs []error
}

// Count returns how many records had outcome o.
func (r ImportResult) Count(o ImportOutcome) int {
	n := 0
	for _, v := range r.Outcomes {
		if v == o {
			n++
		}
	}
	return n
}

var methodName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// check normalises r and checks every field; the centre's existence is
// checked in the transaction.
func (r *ImportRecord) check(now time.Time) (Proofing, time.Time, error) {
	p := Proofing{NationalID: r.NationalID, GivenName: r.GivenName, Surname: r.Surname, GivenNameAr: r.GivenNameAr,
		SurnameAr: r.SurnameAr, DateOfBirth: r.DateOfBirth, DocType: r.DocType, DocNumber: r.DocNumber,
		DocExpiry: r.DocExpiry, DocCheck: "pass", FaceMatch: "pass"}
	if err := p.validate(now); err != nil {
		return p, time.Time{}, err
	}
	r.Centre = strings.ToUpper(strings.TrimSpace(r.Centre))
	if !centreCode.MatchString(r.Centre) {
		return p, time.Time{}, fmt.Errorf("%w: centre %q must be 2-16 of A-Z, 0-9 and -", ErrInvalid, r.Centre)
	}
	if n := utf8.RuneCountInString(r.Officer); n == 0 || n > 64 || !utf8.ValidString(r.Officer) || strings.TrimSpace(r.Officer) != r.Officer {
		return p, time.Time{}, fmt.Errorf("%w: officer must be 1-64 characters without surrounding spaces", ErrInvalid)
	}
	if !methodName.MatchString(r.Method) {
		return p, time.Time{}, fmt.Errorf("%w: method %q must be 1-32 of a-z, 0-9 and -", ErrInvalid, r.Method)
	}
	if r.Result != "pass" {
		return p, time.Time{}, fmt.Errorf("%w: result is %q: only identities whose proofing passed are imported", ErrInvalid, r.Result)
	}
	at, err := time.Parse(time.RFC3339, strings.TrimSpace(r.ProofedAt))
	if err != nil {
		return p, time.Time{}, fmt.Errorf("%w: proofed_at must be a time in RFC 3339 (2024-05-01T09:30:00Z)", ErrInvalid)
	}
	at = at.UTC()
	if at.After(now) {
		return p, time.Time{}, fmt.Errorf("%w: proofed_at is in the future", ErrInvalid)
	}
	if dob := mustDate(p.DateOfBirth); at.Before(dob) {
		return p, time.Time{}, fmt.Errorf("%w: proofed_at is before date_of_birth", ErrInvalid)
	}
	if exp := mustDate(p.DocExpiry); at.After(exp.Add(24 * time.Hour)) {
		return p, time.Time{}, fmt.Errorf("%w: the identity document had expired (%s) when it was proofed", ErrInvalid, p.DocExpiry)
	}
	return p, at, nil
}

// Import imports a batch of identities proofed elsewhere in one store
// transaction; only administrators (a local operator) may. Each new
// national number gets an identity in state enrolled, without activation
// code, and an enrollment record with purpose "import" that keeps the
// source's officer, method and time; an officer of its centre issues the
// activation code later ([Service.ReissueCode]) when the citizen comes to
// activate. A national number that has an identity already is skipped, so
// a stopped import is resumed by importing the same records again. A
// malformed record, or one naming an unknown centre, is refused alone.
//
// Every imported identity is recorded as an event and in the audit log
// (pseudonymised). The audit records of a committed batch are written even
// when ctx ends meanwhile.
func (s *Service) Import(ctx context.Context, by Principal, recs []ImportRecord) (ImportResult, error) {
	if !by.isAdmin() {
		return ImportResult{}, fmt.Errorf("import: %w", ErrForbidden)
	}
	now := s.now()
	res := ImportResult{Outcomes: make([]ImportOutcome, len(recs)), Errs: make([]error, len(recs))}
	proofs := make([]Proofing, len(recs))
	times := make([]time.Time, len(recs))
	bad := make([]error, len(recs))
	for i := range recs {
		proofs[i], times[i], bad[i] = recs[i].check(now)
	}
	var events []audit.Event
	err := s.st.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
		events = events[:0] // the store may run fn again
		centres := map[string]bool{}
		for i := range recs {
			res.Outcomes[i], res.Errs[i] = Imported, nil
			if bad[i] != nil {
				res.Outcomes[i], res.Errs[i] = Refused, bad[i]
				continue
			}
			c := recs[i].Centre
			known, seen := centres[c]
			if !seen {
				_, err := tx.Centre(c)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				known, centres[c] = err == nil, err == nil
			}
			if !known {
				res.Outcomes[i], res.Errs[i] = Refused, fmt.Errorf("%w: centre %s", ErrNotFound, c)
				continue
			}
			done, err := s.importOne(tx, &events, by, recs[i], proofs[i], times[i], now)
			if err != nil {
				return err
			}
			if !done {
				res.Outcomes[i] = Skipped
			}
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	if err := s.auditAll(context.WithoutCancel(ctx), events); err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	// The copies are in the log: forget the events' pending audit in one
	// transaction rather than leaving them to the next catch-up.
	if ps, ok := s.st.(pendingAudit); ok && len(events) > 0 {
		done := make([]store.Event, 0, len(events))
		for _, e := range events {
			if se, ok := e.Details.(store.Event); ok {
				done = append(done, se)
			}
		}
		if err := ps.ClearPendingAuditEvents(context.WithoutCancel(ctx), done); err != nil {
			return res, fmt.Errorf("import: %w", err)
		}
	}
	return res, nil
}

// importOne writes one identity and its record, or reports false when the
// national number has an identity already. It adds the audit copy of its
// event to events itself, as auditingTx would, since it knows the new
// identity's ID (saving auditingTx's lookup of it, a round trip per row on
// PostgreSQL).
func (s *Service) importOne(tx store.EnrollmentTx, events *[]audit.Event, by Principal, r ImportRecord, p Proofing, at, now time.Time) (bool, error) {
	switch _, err := tx.Identity(p.NationalID); {
	case err == nil:
		return false, nil
	case !errors.Is(err, store.ErrNotFound):
		return false, err
	}
	id, err := s.randomID(18)
	if err != nil {
		return false, err
	}
	rec, err := tx.AppendEnrollment(store.EnrollmentRecord{NationalID: p.NationalID, GivenName: p.GivenName, Surname: p.Surname,
		GivenNameAr: p.GivenNameAr, SurnameAr: p.SurnameAr, DateOfBirth: p.DateOfBirth, DocType: p.DocType,
		DocNumber: p.DocNumber, DocExpiry: p.DocExpiry, Method: r.Method, DocCheck: p.DocCheck, FaceMatch: p.FaceMatch,
		Officer: r.Officer, Centre: r.Centre, At: at, Purpose: ImportPurpose, IdentityID: id, IdentityGen: 1})
	if err != nil {
		return false, err
	}
	if _, err := tx.PutIdentity(store.Identity{NationalID: p.NationalID, ID: id, Generation: 1, State: store.IdentityEnrolled,
		Enrollment: rec.ID, Centre: r.Centre, GivenName: p.GivenName, Surname: p.Surname, GivenNameAr: p.GivenNameAr,
		SurnameAr: p.SurnameAr, CreatedAt: now, UpdatedAt: now}); err != nil {
		return false, err
	}
	e := s.event(by, ImportPurpose, identitySubject(p.NationalID), "", rec.ID+" proofed "+r.Method+" by "+r.Officer+" at "+r.Centre)
	if s.opts.Audit != nil {
		e.AuditID = newAuditID() // kept pending audit until auditAll has copied it
	}
	if err := tx.AppendEvent(e); err != nil {
		return false, err
	}
	*events = append(*events, auditCopy(e, e.Actor, "identity:"+id))
	return true, nil
}

// auditAll appends events to the audit log concurrently, so that the log
// commits them in a few group transactions instead of one each.
func (s *Service) auditAll(ctx context.Context, events []audit.Event) error {
	_, err := s.auditEach(ctx, events, false)
	return err
}

// auditEach is auditAll that, with skipBad, passes over the events the
// log refuses as malformed (audit.ErrBadEvent) and counts them.
func (s *Service) auditEach(ctx context.Context, events []audit.Event, skipBad bool) (int, error) {
	if s.opts.Audit == nil || len(events) == 0 {
		return 0, nil
	}
	const workers = 256
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		bad   int
		next  = make(chan audit.Event)
	)
	for range min(workers, len(events)) {
		wg.Go(func() {
			for e := range next {
				if _, err := s.opts.Audit.Append(ctx, e); err != nil {
					mu.Lock()
					if skipBad && errors.Is(err, audit.ErrBadEvent) {
						bad++
					} else if first == nil {
						first = fmt.Errorf("audit %s: %w", e.Action, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, e := range events {
		next <- e
	}
	close(next)
	wg.Wait()
	return bad, first
}
