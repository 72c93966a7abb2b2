package requests

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/thiqa/thiqa/store"
)

// Accept records the agency's acceptance of a submitted request with its
// result: the PDF given, or else a decision document Thiqa writes (with
// the note). When the service seals its results the result is sealed
// with the agency's e-seal first; the citizen may then download it
// ([Service.Document] with [DocResult]).
func (s *Service) Accept(ctx context.Context, by Principal, id string, result []byte, note string) (View, error) {
	fail := func(err error) (View, error) { return View{}, fmt.Errorf("accept service request: %w", err) }
	if !isAgency(by) {
		return fail(fmt.Errorf("%w: only the agency decides", ErrForbidden))
	}
	note, err := checkReason(note, false)
	if err != nil {
		return fail(err)
	}
	if result != nil {
		if err := s.checkPDF("result", result); err != nil {
			return fail(err)
		}
	}
	r, err := s.load(ctx, by, id)
	if err != nil {
		return fail(err)
	}
	if r.State != store.RequestSubmitted {
		return fail(fmt.Errorf("%w: the request is %s, cannot become %s", ErrState, r.State, store.RequestAccepted))
	}
	if result == nil {
		svc, err := s.d.Catalogue.Lookup(ctx, r.Service)
		if err != nil {
			return fail(err)
		}
		result = Decision(FormData{RequestID: r.ID, ServiceCode: svc.Code, ServiceNameEn: svc.NameEn, ServiceNameAr: svc.NameAr,
			AgencyName: svc.AgencyName, NationalID: r.NationalID}, note, s.now())
	}
	if r.Sealed {
		if s.d.Sealer == nil {
			return fail(errors.New("no sealer is configured"))
		}
		if result, err = s.d.Sealer.Seal(ctx, r.Agency, result); err != nil {
			return fail(fmt.Errorf("seal the result: %w", err))
		}
	}
	sum := sha256.Sum256(result)
	key := "result/" + r.ID
	out, err := s.move(ctx, by, id, []string{store.RequestSubmitted}, store.RequestAccepted, note,
		func(cur *store.ServiceRequest) error {
			cur.ResultBlob, cur.ResultSHA256, cur.Reason = key, sum[:], note
			return nil
		}, map[string][]byte{key: result})
	if err != nil {
		return fail(err)
	}
	return view(out), nil
}

// Documents of a request.
const (
	DocForm       = "form"        // the application form as Thiqa wrote it
	DocSignedForm = "signed-form" // the signed form, once submitted
	DocResult     = "result"      // the (sealed) result, once accepted
)

// Document returns a document of a request that by may see (the agency
// sees a request once it is submitted), and its file name.
func (s *Service) Document(ctx context.Context, by Principal, id, which string) ([]byte, string, error) {
	fail := func(err error) ([]byte, string, error) { return nil, "", fmt.Errorf("get document: %w", err) }
	r, err := s.load(ctx, by, id)
	if err != nil {
		return fail(err)
	}
	var key, name string
	switch which {
	case DocForm:
		key, name = r.FormBlob, "application-"+r.ID+".pdf"
	case DocSignedForm:
		key, name = r.SignedFormBlob, "application-"+r.ID+"-signed.pdf"
	case DocResult:
		key, name = r.ResultBlob, "result-"+r.ID+".pdf"
	default:
		return fail(fmt.Errorf("%w: document %q", ErrNotFound, which))
	}
	if key == "" {
		return fail(fmt.Errorf("%w: the request is %s and has no %s", ErrState, r.State, which))
	}
	var b []byte
	err = s.d.Store.RequestsView(ctx, func(tx store.RequestsTx) (err error) {
		b, err = tx.RequestBlob(key)
		return err
	})
	if err != nil {
		return fail(err)
	}
	return b, name, nil
}
