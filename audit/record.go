package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/transparency-dev/merkle/rfc6962"
)

// Errors of this package.
var (
	// ErrBadEvent: an event given to Append is malformed (empty or too long
	// a field, control characters, details that do not encode as JSON).
	ErrBadEvent = errors.New("audit: malformed event")
	// ErrBadRecord: stored or received record bytes do not parse, or are
	// not in canonical form.
	ErrBadRecord = errors.New("audit: malformed record")
	// ErrBadCheckpoint: a checkpoint does not parse or its signature does
	// not verify with the log's key.
	ErrBadCheckpoint = errors.New("audit: malformed or unverified checkpoint")
	// ErrOutOfRange: a proof was asked for an index or size the log (or its
	// latest checkpoint) does not have.
	ErrOutOfRange = errors.New("audit: index or size out of range")
	// ErrNoCheckpoint: no checkpoint was signed yet.
	ErrNoCheckpoint = errors.New("audit: no checkpoint yet")
)

// Limits on what a record holds.
const (
	MaxFieldLen   = 256      // bytes of Actor, Action, Subject each
	MaxRecordLen  = 2048     // bytes of a record's encoding
	MaxDetailsLen = 64 << 10 // bytes of an event's details as JSON
	recordVersion = 1
	digestPrefix  = "hmac-sha256:"
)

// Event is what a caller records. Actor is who acted ("officer:khalid",
// "citizen:7f3a…" with the identity's record id, "system"), Action what was
// done ("enrollment.create", "signature.create", "certificate.revoke"), and
// Subject what it was done to (an identity's record id, a certificate serial,
// a sign request id). Details are any JSON-encodable value; they may hold
// personal data and are kept apart from the tree (see the package doc).
type Event struct {
	Actor   string
	Action  string
	Subject string
	Details any
	// Source, when set, names the stored event this record copies
	// ("enrollment.event:<id>"); the log holds at most one record per
	// source, so a copy made again after a crash is not appended twice.
	// It must be pseudonymous, like Actor and Subject.
	Source string
}

// Record is one leaf of the log: its canonical encoding (see
// [Record.Marshal]) is what the tree hashes.
type Record struct {
	Version int       `json:"v"`
	Index   uint64    `json:"index"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Subject string    `json:"subject"`
	// Details is "hmac-sha256:" and the hex HMAC-SHA-256 of the details'
	// JSON keyed with their salt, or empty when the event had none.
	Details string `json:"details,omitempty"`
	// Source is the Event's Source, when it had one.
	Source string `json:"source,omitempty"`
}

func checkField(name, v string, required bool) error {
	switch {
	case v == "" && required:
		return fmt.Errorf("%w: %s is empty", ErrBadEvent, name)
	case len(v) > MaxFieldLen:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrBadEvent, name, MaxFieldLen)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not UTF-8", ErrBadEvent, name)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: %s holds control characters", ErrBadEvent, name)
	}
	return nil
}

func (e Event) check() error {
	if err := checkField("actor", e.Actor, true); err != nil {
		return err
	}
	if err := checkField("action", e.Action, true); err != nil {
		return err
	}
	if err := checkField("subject", e.Subject, false); err != nil {
		return err
	}
	return checkField("source", e.Source, false)
}

// Marshal returns the record's canonical encoding: compact JSON with the
// fields in the order of the struct and the time in UTC.
func (r Record) Marshal() ([]byte, error) {
	r.Time = r.Time.UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return b, nil
}

// ParseRecord parses a record's canonical encoding. It refuses unknown
// fields, bad field values and any encoding that is not the one Marshal
// would produce, so that one record has exactly one leaf hash.
func ParseRecord(b []byte) (Record, error) {
	var r Record
	if len(b) > MaxRecordLen {
		return r, fmt.Errorf("%w: %d bytes", ErrBadRecord, len(b))
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return r, fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	if r.Version != recordVersion {
		return r, fmt.Errorf("%w: version %d", ErrBadRecord, r.Version)
	}
	ev := Event{Actor: r.Actor, Action: r.Action, Subject: r.Subject, Source: r.Source}
	if err := ev.check(); err != nil {
		return r, fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	if r.Details != "" && !validDigest(r.Details) {
		return r, fmt.Errorf("%w: details digest %q", ErrBadRecord, r.Details)
	}
	again, err := r.Marshal()
	if err != nil || !bytes.Equal(again, b) {
		return r, fmt.Errorf("%w: not in canonical form", ErrBadRecord)
	}
	return r, nil
}

func validDigest(s string) bool {
	h, ok := strings.CutPrefix(s, digestPrefix)
	if !ok || len(h) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && strings.ToLower(h) == h
}

// DetailsDigest is what a record says of details data salted with salt.
func DetailsDigest(salt, data []byte) string {
	m := hmac.New(sha256.New, salt)
	m.Write(data)
	return digestPrefix + hex.EncodeToString(m.Sum(nil))
}

// LeafHash is the RFC 6962 leaf hash of a record's encoding.
func LeafHash(record []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(record) }
