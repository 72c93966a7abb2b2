package store

import "time"

// Agency is a client of the signing API: a government agency that sends
// documents to be signed by citizens. Its API key is stored only as a
// SHA-256 hash (the key is 256 random bits, so a slow hash adds nothing).
type Agency struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Scopes  []string `json:"scopes"`
	KeyHash []byte   `json:"key_hash"`
	// CertSHA256 is the SHA-256 of the agency's e-seal certificate, for
	// mutual TLS; empty when the agency uses only its API key.
	CertSHA256    []byte    `json:"cert_sha256,omitempty"`
	WebhookURL    string    `json:"webhook_url,omitempty"`
	WebhookSecret []byte    `json:"webhook_secret,omitempty"`
	Disabled      bool      `json:"disabled,omitempty"`
	Created       time.Time `json:"created"`
}

// Sign request states.
const (
	SignPending  = "pending"
	SignSigning  = "signing" // approved; signatures being made
	SignSigned   = "signed"
	SignRejected = "rejected"
	SignExpired  = "expired"
	SignFailed   = "failed"
)

// SignRequest asks a citizen to sign 1..N PDFs.
type SignRequest struct {
	ID         string `json:"id"`
	Agency     string `json:"agency,omitempty"` // agency ID; empty when the citizen made it
	NationalID string `json:"national_id"`
	PurposeAr  string `json:"purpose_ar"`
	PurposeEn  string `json:"purpose_en"`
	State      string `json:"state"`
	// Reason says why a request failed or was rejected.
	Reason    string         `json:"reason,omitempty"`
	Documents []SignDocument `json:"documents"`
	Created   time.Time      `json:"created"`
	Expires   time.Time      `json:"expires"`
	// SigningTime is the time written in every signature of the request;
	// fixed when the first approval begins so that preparing again gives
	// the same data to be signed.
	SigningTime time.Time `json:"signing_time,omitzero"`
	// Ceremony is the approval ceremony under way and ApprovalExpires
	// the expiry its challenge commits to.
	Ceremony        string    `json:"ceremony,omitempty"`
	ApprovalExpires time.Time `json:"approval_expires,omitzero"`
	Completed       time.Time `json:"completed,omitzero"`
	// SigningSince is when an approval moved the request to SignSigning;
	// a request left there long after it was interrupted (a crash).
	SigningSince   time.Time `json:"signing_since,omitzero"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	Version        uint64    `json:"version"`
}

// SignDocument is one PDF of a sign request. The bytes live in blobs
// (see [SigningTx.PutBlob]) under DocumentKey and SignedKey.
type SignDocument struct {
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	SHA256   []byte `json:"sha256"`
	Level    string `json:"level"`
	Visible  bool   `json:"visible,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Location string `json:"location,omitempty"`
	// DTBS is the data-to-be-signed digest shown to the citizen.
	DTBS []byte `json:"dtbs,omitempty"`
	// SHA256State is the SHA-256 state after the original's bytes
	// (encoding.BinaryMarshaler), so that the signed file's hash needs only
	// the update hashed.
	SHA256State []byte `json:"sha256_state,omitempty"`
	// Blob is the key of the original's bytes.
	Blob         string `json:"blob,omitempty"`
	SignedSize   int64  `json:"signed_size,omitempty"`
	SignedSHA256 []byte `json:"signed_sha256,omitempty"`
}

// SignEvidence records one signature for audit: who approved what, with
// which passkey assertion, when and from where.
type SignEvidence struct {
	ID           string    `json:"id"`
	RequestID    string    `json:"request_id"`
	Document     int       `json:"document"`
	NationalID   string    `json:"national_id"`
	Agency       string    `json:"agency,omitempty"`
	DTBS         []byte    `json:"dtbs"`
	DocumentHash []byte    `json:"document_sha256"`
	SignedHash   []byte    `json:"signed_sha256"`
	Credential   string    `json:"credential"`
	Challenge    []byte    `json:"challenge"`
	Assertion    []byte    `json:"assertion"`
	SignCount    uint32    `json:"sign_count"`
	Level        string    `json:"level"`
	At           time.Time `json:"at"`
	IP           string    `json:"ip"`
}

// SigningTx is a transaction over the signing API's records.
type SigningTx interface {
	Agency(id string) (Agency, error)
	// AgencyByName finds an agency by its unique name.
	AgencyByName(name string) (Agency, error)
	// InsertAgency adds an agency; ErrDuplicate when the ID or the name
	// is taken.
	InsertAgency(a Agency) error
	PutAgency(a Agency) error
	Agencies() ([]Agency, error)
	// PutPendingAudit keeps the audit record of a change made in this
	// transaction pending until a catch-up has checked it ([PendingAudit]).
	PutPendingAudit(p PendingAudit) error

	SignRequest(id string) (SignRequest, error)
	// PutSignRequest stores r; it fails with ErrConflict when r.Version is
	// not the stored version (0 for a new request), and bumps Version.
	PutSignRequest(r SignRequest) (SignRequest, error)
	// SignRequestsOf lists a citizen's requests, oldest first.
	SignRequestsOf(nationalID string) ([]SignRequest, error)
	// Idempotency returns the request ID stored under (owner, key).
	Idempotency(owner, key string) (string, error)
	PutIdempotency(owner, key, requestID string) error

	// NextBlobSequence returns a number larger than any it returned
	// before, for blob keys that sort in the order of writing: large blobs
	// then only ever go at the end of the B+tree, and writing one does not
	// rewrite pages that hold others.
	NextBlobSequence() (uint64, error)
	// BlobKeys lists up to max keys that start with prefix, in order.
	BlobKeys(prefix string, max int) ([]string, error)
	// PutBlob stores bytes under key; Blob returns a copy.
	PutBlob(key string, b []byte) error
	Blob(key string) ([]byte, error)

	PutEvidence(e SignEvidence) error
	EvidenceOf(requestID string) ([]SignEvidence, error)

	// SignRequestsInState lists up to max requests in state, by ID; only
	// SignSigning is indexed (the requests that a crash may have left
	// half-signed), other states return an error.
	SignRequestsInState(state string, max int) ([]SignRequest, error)

	// PutWebhook stores a webhook delivery; it fails with ErrConflict
	// when d.Version is not the stored version (0 for a new one), and
	// bumps Version.
	PutWebhook(d WebhookDelivery) (WebhookDelivery, error)
	Webhook(id string) (WebhookDelivery, error)
	// DueWebhooks lists up to max pending deliveries due at now, earliest
	// first.
	DueWebhooks(now time.Time, max int) ([]WebhookDelivery, error)
	// WebhooksOf lists the deliveries about one sign request.
	WebhooksOf(requestID string) ([]WebhookDelivery, error)
}
