package store

import "time"

// Records of enrollment: service centres, officers, in-person enrollment
// records, identities with their passkeys, sessions, WebAuthn ceremonies in
// progress, four-eyes approvals and the append-only event trail. They are
// read and written inside an [EnrollmentTx], so that a state change and the
// event recording it commit together.

// Centre is a service centre where officers proof citizens in person.
type Centre struct {
	Code        string    `json:"code"` // stable, e.g. "AMM-01"
	NameAr      string    `json:"name_ar"`
	NameEn      string    `json:"name_en"`
	Governorate string    `json:"governorate"`
	CreatedAt   time.Time `json:"created_at"`
}

// Officer roles.
const (
	RoleOfficer    = "officer"
	RoleSupervisor = "supervisor"
	RoleAdmin      = "admin"
)

// Officer is an account of the officer console.
type Officer struct {
	Username     string `json:"username"`
	Role         string `json:"role"`   // RoleOfficer, RoleSupervisor or RoleAdmin
	Centre       string `json:"centre"` // centre code; "" for an admin of no centre
	PasswordHash string `json:"password_hash"`
	// TOTPSecret is the base32 TOTP secret in clear, as accounts made
	// before secrets were sealed hold it; TOTPSealed is the secret sealed by
	// key custody (hsm.Sealer, owner "officer:<username>"). A record has
	// one or the other.
	TOTPSecret   string    `json:"totp_secret,omitempty"`
	TOTPSealed   []byte    `json:"totp_sealed,omitempty"`
	TOTPLastStep int64     `json:"totp_last_step"` // last accepted time step: codes are single use
	Failures     int       `json:"failures"`       // consecutive failed sign-ins
	LockedUntil  time.Time `json:"locked_until,omitzero"`
	Disabled     bool      `json:"disabled,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	CreatedBy    string    `json:"created_by"`
}

// EnrollmentRecord is the evidence of one in-person identity proofing
// (ETSI EN 319 411-1 REG-6.2.2). Records are never changed: a correction is
// a new record whose Corrects names the one it replaces.
type EnrollmentRecord struct {
	ID           string    `json:"id"` // assigned by the store
	NationalID   string    `json:"national_id"`
	GivenName    string    `json:"given_name"` // Latin letters
	Surname      string    `json:"surname"`
	GivenNameAr  string    `json:"given_name_ar"`
	SurnameAr    string    `json:"surname_ar"`
	DateOfBirth  string    `json:"date_of_birth"` // YYYY-MM-DD
	DocType      string    `json:"doc_type"`      // "national-id-card", "passport"
	DocNumber    string    `json:"doc_number"`
	DocExpiry    string    `json:"doc_expiry"` // YYYY-MM-DD
	Method       string    `json:"method"`     // e.g. "in-person"
	DocCheck     string    `json:"doc_check"`  // "pass" or "fail"
	FaceMatch    string    `json:"face_match"` // "pass" or "fail"
	Officer      string    `json:"officer"`
	Centre       string    `json:"centre"`
	At           time.Time `json:"at"`
	Corrects     string    `json:"corrects,omitempty"` // ID of the record this one corrects
	Purpose      string    `json:"purpose"`            // "enrol", "re-proof", "correction"
	IdentityID   string    `json:"identity_id"`
	IdentityGen  int       `json:"identity_generation"`
	CodeIssuedAt time.Time `json:"code_issued_at,omitzero"`
}

// Identity states.
const (
	IdentityEnrolled   = "enrolled"   // proofed, waiting for activation
	IdentityActivating = "activating" // code redeemed, key and certificates being made
	IdentityActive     = "active"
	IdentitySuspended  = "suspended" // certificates on hold
	IdentityRevoked    = "revoked"   // certificates revoked; re-enrollment starts a new generation
)

// Activation code purposes.
const (
	CodeActivate  = "activate"   // first activation of a generation
	CodeAddDevice = "add-device" // a passkey after re-proofing; disables the others
)

// Identity is a citizen's digital identity: its current generation (key,
// certificates, passkeys) and the state of its activation code.
type Identity struct {
	NationalID string `json:"national_id"`
	// ID is random and names this generation: the WebAuthn user handle
	// and the custody key "citizen-<ID>". Re-enrollment after revocation
	// draws a new one.
	ID         string `json:"id"`
	Generation int    `json:"generation"`
	State      string `json:"state"`
	// Enrollment is the ID of the latest enrollment record; Centre its
	// centre, which decides which officers may act on the identity.
	Enrollment string `json:"enrollment"`
	Centre     string `json:"centre"`
	// Names as enrolled, for the certificates.
	GivenName   string `json:"given_name"`
	Surname     string `json:"surname"`
	GivenNameAr string `json:"given_name_ar"`
	SurnameAr   string `json:"surname_ar"`

	KeyID string `json:"key_id,omitempty"`
	// SigningKey and AuthKey are the citizen's keys wrapped by key
	// custody (hsm.WrappedCustody), bound to this identity's ID; empty
	// when the keys are named custody keys (KeyID).
	SigningKey []byte `json:"signing_key,omitempty"`
	AuthKey    []byte `json:"auth_key,omitempty"`
	// SigningPub and AuthPub are their public keys (PKIX DER).
	SigningPub   []byte    `json:"signing_pub,omitempty"`
	AuthPub      []byte    `json:"auth_pub,omitempty"`
	SigningCert  string    `json:"signing_cert,omitempty"` // serial
	AuthCert     string    `json:"auth_cert,omitempty"`    // serial
	Credentials  []Passkey `json:"credentials,omitempty"`
	CodeHash     []byte    `json:"code_hash,omitempty"` // HMAC of the activation code
	CodeSalt     []byte    `json:"code_salt,omitempty"`
	CodePurpose  string    `json:"code_purpose,omitempty"`
	CodeExpires  time.Time `json:"code_expires,omitzero"`
	CodeUsed     bool      `json:"code_used,omitempty"`
	CodeFailures int       `json:"code_failures,omitempty"`
	CodeLocked   bool      `json:"code_locked,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version counts changes of the record, starting at 1; set by the
	// store.
	Version int64 `json:"version"`
}

// Passkey is a WebAuthn credential registered to an identity.
type Passkey struct {
	ID             []byte    `json:"id"`   // credential ID
	Name           string    `json:"name"` // given by the citizen
	PublicKey      []byte    `json:"public_key"`
	AttestationFmt string    `json:"attestation_fmt"`
	AAGUID         []byte    `json:"aaguid"`
	SignCount      uint32    `json:"sign_count"`
	UserPresent    bool      `json:"user_present"`
	UserVerified   bool      `json:"user_verified"`
	BackupEligible bool      `json:"backup_eligible"`
	BackupState    bool      `json:"backup_state"`
	Transports     []string  `json:"transports,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	LastUsed       time.Time `json:"last_used,omitzero"`
	Disabled       bool      `json:"disabled,omitempty"`
	DisabledAt     time.Time `json:"disabled_at,omitzero"`
	DisabledBy     string    `json:"disabled_by,omitempty"`
}

// Session kinds.
const (
	SessionOfficer = "officer"
	SessionCitizen = "citizen"
)

// Session is a signed-in officer or citizen. Only the hash of its token is
// stored.
type Session struct {
	Hash       []byte    `json:"hash"`
	Kind       string    `json:"kind"`
	Subject    string    `json:"subject"` // officer username, or identity ID
	NationalID string    `json:"national_id,omitempty"`
	Role       string    `json:"role,omitempty"`
	Centre     string    `json:"centre,omitempty"`
	Credential []byte    `json:"credential,omitempty"` // passkey that opened it
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
}

// WebAuthnCeremony is a WebAuthn registration or sign-in in progress: the server
// side of its challenge. It is deleted when finished, so a response can be
// used once.
type WebAuthnCeremony struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"` // "activate", "add-device", "signin"
	NationalID string    `json:"national_id,omitempty"`
	IdentityID string    `json:"identity_id,omitempty"`
	CodeHash   []byte    `json:"code_hash,omitempty"` // the code this registration redeems
	Session    []byte    `json:"session"`             // the library's session data (JSON)
	Expires    time.Time `json:"expires"`
}

// Approval is a four-eyes request: an action one officer asked for, which a
// second (a supervisor or an admin) must approve before it is done.
type Approval struct {
	ID         string `json:"id"`
	Action     string `json:"action"` // "revoke" or "create-admin"
	NationalID string `json:"national_id"`
	// Username and Centre name the administrator account that a
	// "create-admin" approval creates.
	Username    string    `json:"username,omitempty"`
	Centre      string    `json:"centre,omitempty"`
	Reason      string    `json:"reason"`
	Why         string    `json:"why"`
	RequestedBy string    `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
	DecidedBy   string    `json:"decided_by,omitempty"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
	Status      string    `json:"status"` // "pending", "approved", "rejected"
}

// Event records a state change: who did what to which subject, when and
// why. Events are only ever appended.
type Event struct {
	Seq     uint64    `json:"seq"` // assigned by the store
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`   // "officer:<username>", "citizen:<national id>", "system"
	Action  string    `json:"action"`  // "enrol", "activate", "suspend", …
	Subject string    `json:"subject"` // "identity:<national id>", "officer:<username>", …
	Why     string    `json:"why,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	// AuditID, when set, names the event's copy in the audit log. The
	// store then also keeps the event as pending audit, in the same
	// transaction, until ClearPendingAuditEvents: a crash between the
	// commit and the audit append leaves it there for a catch-up to copy.
	AuditID string `json:"audit_id,omitempty"`
}

// EnrollmentTx is one transaction over the enrollment records. Reads see
// the transaction's own writes. Missing records are ErrNotFound.
type EnrollmentTx interface {
	Centre(code string) (Centre, error)
	Centres() ([]Centre, error)
	// InsertCentre fails with ErrDuplicate when the code is taken.
	InsertCentre(c Centre) error

	Officer(username string) (Officer, error)
	// InsertOfficer fails with ErrDuplicate when the username is taken.
	InsertOfficer(o Officer) error
	// PutOfficer replaces an existing officer.
	PutOfficer(o Officer) error
	// Officers lists up to max officers whose usernames follow after, in
	// order.
	Officers(after string, max int) ([]Officer, error)

	// AppendEnrollment stores a new record, assigning its ID; records are
	// never replaced.
	AppendEnrollment(r EnrollmentRecord) (EnrollmentRecord, error)
	Enrollment(id string) (EnrollmentRecord, error)
	// Enrollments lists one national number's records, oldest first.
	Enrollments(nationalID string) ([]EnrollmentRecord, error)

	Identity(nationalID string) (Identity, error)
	// IdentityByID finds an identity by its current generation's ID.
	IdentityByID(id string) (Identity, error)
	// PutIdentity stores the identity; its Version must be that of the
	// stored record (0 for a new one) or ErrConflict.
	PutIdentity(i Identity) (Identity, error)
	// IdentitiesAfter lists up to max identities whose national numbers
	// follow after ("" for the first), in order.
	IdentitiesAfter(after string, max int) ([]Identity, error)
	// OfficersAfter lists up to max officers whose usernames follow after,
	// in order.
	OfficersAfter(after string, max int) ([]Officer, error)

	Session(hash []byte) (Session, error)
	PutSession(s Session) error
	DeleteSession(hash []byte) error

	Ceremony(id string) (WebAuthnCeremony, error)
	PutCeremony(c WebAuthnCeremony) error
	// DeleteCeremony fails with ErrNotFound when it is gone already.
	DeleteCeremony(id string) error
	// PurgeExpired looks at up to max sessions and ceremonies whose keys
	// follow from (wrapping around) and deletes those expired at now. Keys
	// are random, so calling it with a fresh key on every insert keeps
	// both buckets near their live size at a bounded cost per call.
	PurgeExpired(from []byte, max int, now time.Time) (int, error)

	Approval(id string) (Approval, error)
	PutApproval(a Approval) error
	// Approvals lists the approvals with the given status ("" for all),
	// at most max of them.
	Approvals(status string, max int) ([]Approval, error)

	// AppendEvent appends an event, assigning its Seq.
	AppendEvent(e Event) error
	// Events lists the events of one subject, oldest first.
	Events(subject string) ([]Event, error)
}
