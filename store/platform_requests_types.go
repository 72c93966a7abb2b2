package store

import "time"

// Service request states (package platform/requests). A request is opened
// with its application form waiting for the citizen's signature, submitted
// to the agency once signed (and paid, when the service has a fee), and
// then accepted with a sealed result or rejected with a reason.
const (
	RequestOpened    = "opened"
	RequestSubmitted = "submitted"
	RequestAccepted  = "accepted"
	RequestRejected  = "rejected"
	RequestCancelled = "cancelled"
)

// RequestTransition is one change of a service request's state: who made
// it, when, from which state to which, and why.
type RequestTransition struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"` // "citizen:<identity id>", "agency:<id>", "system"
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason,omitempty"`
}

// ServiceRequest is a citizen's request for a government service.
type ServiceRequest struct {
	ID         string `json:"id"`
	Service    string `json:"service"` // catalogue code
	Agency     string `json:"agency"`  // ID of the agency that decides
	NationalID string `json:"national_id"`
	State      string `json:"state"`
	// FormSHA256 is the hash of the application form as Thiqa generated
	// it; FormBlob the key of its bytes. SignRequest is the sign request
	// that asks the citizen to sign it, SignedFormBlob the signed form
	// once submitted.
	FormSHA256     []byte `json:"form_sha256"`
	FormBlob       string `json:"form_blob"`
	SignRequest    string `json:"sign_request"`
	SignedFormBlob string `json:"signed_form_blob,omitempty"`
	// FeeFils is the fee (0: none) and Invoice the invoice that pays it.
	FeeFils int64  `json:"fee_fils,omitempty"`
	Invoice string `json:"invoice,omitempty"`
	// Sealed says whether the result is sealed with the agency's e-seal;
	// ResultBlob and ResultSHA256 are the result once accepted.
	Sealed       bool   `json:"sealed,omitempty"`
	ResultBlob   string `json:"result_blob,omitempty"`
	ResultSHA256 []byte `json:"result_sha256,omitempty"`
	// Reason is the agency's reason for a rejection, or its note on an
	// acceptance.
	Reason      string              `json:"reason,omitempty"`
	Created     time.Time           `json:"created"`
	Updated     time.Time           `json:"updated"`
	Transitions []RequestTransition `json:"transitions"`
	Version     uint64              `json:"version"`
}

// QueueKey orders a request in its agency's queue and citizen's list:
// creation time (UTC, fixed width) and ID. It is what [Page.After] takes
// in listings of service requests.
func (r ServiceRequest) QueueKey() string {
	return r.Created.UTC().Format("20060102T150405.000000000") + "_" + r.ID
}

// RequestsTx is a transaction over service requests.
type RequestsTx interface {
	ServiceRequest(id string) (ServiceRequest, error)
	// PutServiceRequest stores r; it fails with ErrConflict when r.Version
	// is not the stored version (0 for a new request), and bumps Version.
	// The citizen, agency, service and creation time never change.
	PutServiceRequest(r ServiceRequest) (ServiceRequest, error)
	// ServiceRequestsOf lists a citizen's newest 1000 requests, oldest
	// first.
	ServiceRequestsOf(nationalID string) ([]ServiceRequest, error)
	// AgencyQueue lists an agency's requests in one state, oldest first,
	// after p.After (a [ServiceRequest.QueueKey]).
	AgencyQueue(agency, state string, p Page) ([]ServiceRequest, error)
	// PutRequestBlob stores bytes under a new key (ErrDuplicate if the
	// key is taken); RequestBlob returns them.
	PutRequestBlob(key string, b []byte) error
	RequestBlob(key string) ([]byte, error)
	// PutPendingAudit keeps the audit record of a change made in this
	// transaction pending until a catch-up has checked it ([PendingAudit]).
	PutPendingAudit(p PendingAudit) error
}
