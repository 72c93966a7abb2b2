package validate

import (
	"time"
)

// SchemaVersion names the JSON report schema; it changes only when a
// field changes meaning or is removed.
const SchemaVersion = "thiqa.verify/v1"

// Indication is an ETSI EN 319 102-1 main status indication.
type Indication string

// Main indications.
const (
	TotalPassed   Indication = "TOTAL-PASSED"
	TotalFailed   Indication = "TOTAL-FAILED"
	Indeterminate Indication = "INDETERMINATE"
)

// SubIndication is an ETSI EN 319 102-1 sub-indication.
type SubIndication string

// Sub-indications used by the validator.
const (
	FormatFailure           SubIndication = "FORMAT_FAILURE"
	HashFailure             SubIndication = "HASH_FAILURE"
	SigCryptoFailure        SubIndication = "SIG_CRYPTO_FAILURE"
	Revoked                 SubIndication = "REVOKED"
	Expired                 SubIndication = "EXPIRED"
	NotYetValid             SubIndication = "NOT_YET_VALID"
	SigConstraintsFailure   SubIndication = "SIG_CONSTRAINTS_FAILURE"
	ChainConstraintsFailure SubIndication = "CHAIN_CONSTRAINTS_FAILURE"
	CryptoConstraints       SubIndication = "CRYPTO_CONSTRAINTS_FAILURE"
	TimestampOrderFailure   SubIndication = "TIMESTAMP_ORDER_FAILURE"
	NoSigningCertificate    SubIndication = "NO_SIGNING_CERTIFICATE_FOUND"
	NoCertificateChain      SubIndication = "NO_CERTIFICATE_CHAIN_FOUND"
	RevokedNoPOE            SubIndication = "REVOKED_NO_POE"
	RevokedCANoPOE          SubIndication = "REVOKED_CA_NO_POE"
	OutOfBoundsNoPOE        SubIndication = "OUT_OF_BOUNDS_NO_POE"
	TryLater                SubIndication = "TRY_LATER"
	SignedDataNotFound      SubIndication = "SIGNED_DATA_NOT_FOUND"
	Generic                 SubIndication = "GENERIC"
)

// Report is the validation report of one PDF file. Its JSON form is the
// stable schema documented in docs/VERIFY-REPORT.md.
type Report struct {
	Schema         string         `json:"schema"`
	File           string         `json:"file,omitempty"`
	Size           int64          `json:"size"`
	SHA256         string         `json:"sha256,omitempty"`
	ValidationTime time.Time      `json:"validation_time"`
	Revisions      int            `json:"revisions"`
	Indication     Indication     `json:"indication"`
	SubIndication  SubIndication  `json:"sub_indication,omitempty"`
	Explanation    Text           `json:"explanation"`
	Problem        string         `json:"problem,omitempty"`
	Signatures     []Signature    `json:"signatures"`
	Modifications  []Modification `json:"modifications"`
}

// Text is a message in English and Arabic.
type Text struct {
	EN string `json:"en"`
	AR string `json:"ar"`
}

// Check outcomes.
const (
	CheckPassed     = "passed"
	CheckFailed     = "failed"
	CheckNotChecked = "not-checked"
)

// Checks are the outcomes of the integrity checks of one signature.
type Checks struct {
	ByteRange          string `json:"byte_range"`
	Digest             string `json:"digest"`
	SignatureValue     string `json:"signature_value"`
	SigningCertificate string `json:"signing_certificate"`
	Chain              string `json:"chain"`
	Revocation         string `json:"revocation"`
	Modifications      string `json:"modifications"`
}

// Signature is the report on one signature or document time-stamp.
type Signature struct {
	Index              int            `json:"index"`
	ID                 string         `json:"id"`
	Field              string         `json:"field"`
	Kind               string         `json:"kind"` // "signature" or "document-timestamp"
	SubFilter          string         `json:"sub_filter"`
	Revision           int            `json:"revision"`
	CoversWholeFile    bool           `json:"covers_whole_file"`
	ByteRange          []int64        `json:"byte_range"`
	ContentsSHA256     string         `json:"contents_sha256,omitempty"`
	Level              string         `json:"level"`
	Indication         Indication     `json:"indication"`
	SubIndication      SubIndication  `json:"sub_indication,omitempty"`
	Explanation        Text           `json:"explanation"`
	Findings           []string       `json:"findings"`
	Checks             Checks         `json:"checks"`
	DigestAlgorithm    string         `json:"digest_algorithm,omitempty"`
	SignatureAlgorithm string         `json:"signature_algorithm,omitempty"`
	Signer             *Certificate   `json:"signer,omitempty"`
	Chain              []Certificate  `json:"chain"`
	Trusted            bool           `json:"trusted"`
	ClaimedTime        *time.Time     `json:"claimed_signing_time,omitempty"`
	BestSignatureTime  time.Time      `json:"best_signature_time,omitzero"`
	Name               string         `json:"name,omitempty"`
	Reason             string         `json:"reason,omitempty"`
	Location           string         `json:"location,omitempty"`
	ContactInfo        string         `json:"contact_info,omitempty"`
	Certification      int            `json:"certification_permission,omitempty"`
	Timestamps         []Timestamp    `json:"timestamps"`
	Revocation         []Revocation   `json:"revocation"`
	Modifications      []Modification `json:"modifications"`
}

// Certificate summarises one certificate.
type Certificate struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	SHA256    string    `json:"sha256"`
}

// Timestamp is a signature or document time-stamp attached to a
// signature.
type Timestamp struct {
	Kind    string    `json:"kind"` // "signature" or "document"
	Time    time.Time `json:"time"`
	TSA     string    `json:"tsa,omitempty"`
	Valid   bool      `json:"valid"`
	Trusted bool      `json:"trusted"`
	Problem string    `json:"problem,omitempty"`
	// SubIndication says, in EN 319 102-1 terms, why a valid token gives
	// no proof of existence: REVOKED when its TSA certificate was revoked
	// at or before the time the token vouches for, REVOKED_NO_POE (or
	// REVOKED_CA_NO_POE) when revoked later for a reason that may mean a
	// key compromise and nothing proves the token existed before.
	SubIndication SubIndication `json:"sub_indication,omitempty"`
	// TSARevocation is the revocation status of the TSA's chain (not of
	// the trust anchor), for tokens whose TSA chains to one.
	TSARevocation []Revocation `json:"tsa_revocation,omitempty"`
}

// Revocation is the revocation status found for one certificate of a
// chain.
type Revocation struct {
	Subject    string     `json:"subject"`
	Status     string     `json:"status"` // good, revoked, unknown
	Source     string     `json:"source,omitempty"`
	ThisUpdate *time.Time `json:"this_update,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Modification kinds. Allowed ones are listed in the report with
// allowed=true.
const (
	ModPageContent      = "page-content-changed"
	ModPageAdded        = "page-added"
	ModPageRemoved      = "page-removed"
	ModAnnotAdded       = "annotation-added"
	ModAnnotChanged     = "annotation-changed"
	ModAnnotRemoved     = "annotation-removed"
	ModFieldChanged     = "form-field-changed"
	ModFieldAdded       = "form-field-added"
	ModFieldRemoved     = "form-field-removed"
	ModCatalog          = "catalog-changed"
	ModOutline          = "outline-changed"
	ModOverridden       = "object-overridden"
	ModSignatureChanged = "signature-changed"
	ModSignatureRemoved = "signature-removed"
	ModSignatureAdded   = "signature-added"
	ModSigFieldAdded    = "signature-field-added"
	ModSigFieldFilled   = "signature-field-filled"
	ModDocTimestamp     = "document-timestamp-added"
	ModDSS              = "dss-updated"
	ModMetadata         = "metadata-changed"
	ModUnreadable       = "revision-unreadable"
)

// Modification is one change made by a revision after a signature.
type Modification struct {
	Revision      int    `json:"revision"`
	Kind          string `json:"kind"`
	Allowed       bool   `json:"allowed"`
	Page          int    `json:"page,omitempty"`
	Object        uint32 `json:"object,omitempty"`
	Field         string `json:"field,omitempty"`
	CoversContent bool   `json:"covers_content,omitempty"`
	Detail        string `json:"detail,omitempty"`
}
