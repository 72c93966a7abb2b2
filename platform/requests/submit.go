package requests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// Submit sends the citizen's opened request to the agency. The fee must
// be paid and the form signed: signedForm is the signed form when the
// citizen brings it (signed elsewhere with their Thiqa certificate);
// nil takes it from the request's sign request. Either way the signed form
// must validate TOTAL-PASSED, carry a signature by the applicant over the
// whole form, and begin with exactly the form Thiqa generated.
func (s *Service) Submit(ctx context.Context, by Principal, id string, signedForm []byte) (View, error) {
	fail := func(err error) (View, error) { return View{}, fmt.Errorf("submit service request: %w", err) }
	if !isCitizen(by) {
		return fail(fmt.Errorf("%w: only the citizen submits", ErrForbidden))
	}
	r, err := s.load(ctx, by, id)
	if err != nil {
		return fail(err)
	}
	if r.State != store.RequestOpened {
		return fail(fmt.Errorf("%w: the request is %s, cannot become %s", ErrState, r.State, store.RequestSubmitted))
	}
	if r.Invoice != "" {
		paid, err := s.d.Payments.Paid(ctx, r.Invoice)
		if err != nil {
			return fail(err)
		}
		if !paid {
			return fail(fmt.Errorf("%w: invoice %s", ErrUnpaid, r.Invoice))
		}
	}
	blobs := map[string][]byte{}
	if r.SignRequest != "" || signedForm != nil {
		signed, err := s.signedForm(ctx, by, r, signedForm)
		if err != nil {
			return fail(err)
		}
		if err := s.checkSignedForm(ctx, by, r, signed); err != nil {
			return fail(err)
		}
		blobs["signed/"+r.ID] = signed
	}
	out, err := s.move(ctx, by, id, []string{store.RequestOpened}, store.RequestSubmitted, "",
		func(cur *store.ServiceRequest) error {
			if len(blobs) > 0 {
				cur.SignedFormBlob = "signed/" + cur.ID
			}
			return nil
		}, blobs)
	if err != nil {
		return fail(err)
	}
	return view(out), nil
}

// signedForm returns the signed form: the one given, or the signing
// service's signed document.
func (s *Service) signedForm(ctx context.Context, by Principal, r store.ServiceRequest, given []byte) ([]byte, error) {
	if given != nil {
		return given, s.checkPDF("signed form", given)
	}
	b, _, err := s.d.Signing.Document(ctx, by, r.SignRequest, 0, true)
	if errors.Is(err, signing.ErrState) {
		return nil, fmt.Errorf("%w: sign request %s: %w", ErrUnsigned, r.SignRequest, err)
	}
	return b, err
}

// checkSignedForm checks that signed is the form of r as Thiqa generated
// it, signed by the applicant, and valid.
func (s *Service) checkSignedForm(ctx context.Context, by Principal, r store.ServiceRequest, signed []byte) error {
	var form []byte
	err := s.d.Store.RequestsView(ctx, func(tx store.RequestsTx) (err error) {
		form, err = tx.RequestBlob(r.FormBlob)
		return err
	})
	if err != nil {
		return fmt.Errorf("read the form: %w", err)
	}
	if h := sha256.Sum256(form); !bytes.Equal(h[:], r.FormSHA256) {
		return fmt.Errorf("stored form of %s does not match its hash", r.ID)
	}
	n := len(form)
	if len(signed) <= n {
		return fmt.Errorf("%w: %s", ErrUnsigned, "the document is no longer than the form")
	}
	if h := sha256.Sum256(signed[:n]); !bytes.Equal(h[:], r.FormSHA256) {
		return fmt.Errorf("%w: it does not begin with the form Thiqa prepared for this request", ErrForm)
	}
	rep, err := s.d.Validator.Validate(ctx, bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrForm, err)
	}
	if rep.Indication != validate.TotalPassed {
		return fmt.Errorf("%w: validation %s %s: %s", ErrForm, rep.Indication, rep.SubIndication, rep.Explanation.EN)
	}
	for _, sig := range rep.Signatures {
		if sig.Kind == "signature" && sig.Indication == validate.TotalPassed && coversForm(sig.ByteRange, n) &&
			sig.Signer != nil && signerIs(*sig.Signer, r.NationalID) {
			return nil
		}
	}
	return fmt.Errorf("%w: no valid signature of the applicant covers the whole form", ErrForm)
}

// coversForm reports whether a signature's byte range starts at 0 and
// goes past the form's last byte (so the form is all signed).
func coversForm(br []int64, n int) bool {
	return len(br) == 4 && br[0] == 0 && br[2]+br[3] > int64(n)
}

// signerIs reports whether a signer's certificate is the citizen's: its
// subject's serialNumber is the semantics identifier PNOJO-<national id>
// (ETSI EN 319 412-1).
func signerIs(c validate.Certificate, nationalID string) bool {
	for _, part := range strings.Split(c.Subject, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(k, "serialNumber") && v == "PNOJO-"+nationalID {
			return true
		}
	}
	return false
}
