package requests

import "errors"

// Errors of the service requests. Messages wrap them with what was
// refused; the API maps them to problem documents with errors.Is.
var (
	// ErrInvalid: malformed input (an unknown field value, a reason
	// missing or too long, a document that is not a PDF).
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound: no such request or service (also what another
	// citizen's or agency's request looks like).
	ErrNotFound = errors.New("not found")
	// ErrForbidden: this kind of principal may not do this.
	ErrForbidden = errors.New("not allowed for this principal")
	// ErrState: the transition is not allowed from the request's state
	// (out of order, or decided already).
	ErrState = errors.New("operation not allowed in the request's state")
	// ErrUnpaid: the service's fee is not paid yet.
	ErrUnpaid = errors.New("the fee is not paid")
	// ErrUnsigned: the application form is not signed yet.
	ErrUnsigned = errors.New("the application form is not signed")
	// ErrForm: the signed form does not validate, is not signed by the
	// applicant, or is not the form Thiqa generated.
	ErrForm = errors.New("signed application form refused")
	// ErrTooLarge: a document over the size limit.
	ErrTooLarge = errors.New("document too large")
)
