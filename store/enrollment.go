package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketCentres     = []byte("enr_centres")
	bucketOfficers    = []byte("enr_officers")
	bucketEnrollments = []byte("enr_records")    // national id \x00 seq -> record
	bucketEnrollIDs   = []byte("enr_record_ids") // record id -> key in enr_records
	bucketIdentities  = []byte("enr_identities") // national id -> identity
	bucketIdentityIDs = []byte("enr_identity_ids")
	bucketSessions    = []byte("enr_sessions")
	bucketCeremonies  = []byte("enr_ceremonies")
	bucketApprovals   = []byte("enr_approvals")
	bucketEvents      = []byte("enr_events")        // subject \x00 seq -> event
	bucketAuditPend   = []byte("enr_audit_pending") // at (unix ns) || audit id -> event

	enrollmentBuckets = [][]byte{bucketCentres, bucketOfficers, bucketEnrollments, bucketEnrollIDs,
		bucketIdentities, bucketIdentityIDs, bucketSessions, bucketCeremonies, bucketApprovals, bucketEvents, bucketAuditPend}
)

// EnrollmentView runs fn in a read-only transaction.
func (s *Bolt) EnrollmentView(ctx context.Context, fn func(EnrollmentTx) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketIdentities) == nil {
			return fn(emptyTx{})
		}
		return fn(&boltEnrollTx{tx: tx})
	})
}

// EnrollmentUpdate runs fn in a read-write transaction and commits it
// durably when fn returns nil. Concurrent calls are grouped into one
// transaction and one fsync, so fn may run more than once and must have no
// effect outside the transaction.
func (s *Bolt) EnrollmentUpdate(ctx context.Context, fn func(EnrollmentTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Batch(func(tx *bolt.Tx) error {
		for _, b := range enrollmentBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return fn(&boltEnrollTx{tx: tx})
	})
}

type boltEnrollTx struct{ tx *bolt.Tx }

func (t *boltEnrollTx) b(name []byte) *bolt.Bucket { return t.tx.Bucket(name) }

func (t *boltEnrollTx) Centre(code string) (Centre, error) {
	var c Centre
	return c, wrapGet("centre "+code, getJSON(t.b(bucketCentres), code, &c))
}

func (t *boltEnrollTx) Centres() ([]Centre, error) {
	var out []Centre
	err := t.b(bucketCentres).ForEach(func(_, v []byte) error {
		var c Centre
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

func (t *boltEnrollTx) InsertCentre(c Centre) error {
	if c.Code == "" {
		return errors.New("insert centre: code is required")
	}
	return insertJSON(t.b(bucketCentres), "centre "+c.Code, c.Code, c)
}

func (t *boltEnrollTx) Officer(username string) (Officer, error) {
	var o Officer
	return o, wrapGet("officer "+username, getJSON(t.b(bucketOfficers), username, &o))
}

func (t *boltEnrollTx) InsertOfficer(o Officer) error {
	if o.Username == "" {
		return errors.New("insert officer: username is required")
	}
	return insertJSON(t.b(bucketOfficers), "officer "+o.Username, o.Username, o)
}

func (t *boltEnrollTx) PutOfficer(o Officer) error {
	b := t.b(bucketOfficers)
	if b.Get([]byte(o.Username)) == nil {
		return fmt.Errorf("put officer %s: %w", o.Username, ErrNotFound)
	}
	return putJSON(b, o.Username, o)
}

func (t *boltEnrollTx) Officers(after string, max int) ([]Officer, error) {
	var out []Officer
	c := t.b(bucketOfficers).Cursor()
	k, v := c.Seek([]byte(after))
	if k != nil && string(k) == after {
		k, v = c.Next()
	}
	for ; k != nil && len(out) < max; k, v = c.Next() {
		var o Officer
		if err := json.Unmarshal(v, &o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func seqKey(prefix string, seq uint64) []byte {
	k := make([]byte, len(prefix)+1+8)
	copy(k, prefix)
	binary.BigEndian.PutUint64(k[len(prefix)+1:], seq)
	return k
}

func (t *boltEnrollTx) AppendEnrollment(r EnrollmentRecord) (EnrollmentRecord, error) {
	if r.NationalID == "" {
		return r, errors.New("append enrollment: national id is required")
	}
	b := t.b(bucketEnrollments)
	seq, err := b.NextSequence()
	if err != nil {
		return r, fmt.Errorf("append enrollment: %w", err)
	}
	r.ID = fmt.Sprintf("enr-%08d", seq)
	k := seqKey(r.NationalID, seq)
	raw, err := json.Marshal(r)
	if err != nil {
		return r, fmt.Errorf("append enrollment: %w", err)
	}
	if err := b.Put(k, raw); err != nil {
		return r, fmt.Errorf("append enrollment: %w", err)
	}
	return r, t.b(bucketEnrollIDs).Put([]byte(r.ID), k)
}

func (t *boltEnrollTx) Enrollment(id string) (EnrollmentRecord, error) {
	var r EnrollmentRecord
	k := t.b(bucketEnrollIDs).Get([]byte(id))
	if k == nil {
		return r, fmt.Errorf("enrollment %s: %w", id, ErrNotFound)
	}
	raw := t.b(bucketEnrollments).Get(k)
	if raw == nil {
		return r, fmt.Errorf("enrollment %s: %w", id, ErrNotFound)
	}
	return r, json.Unmarshal(raw, &r)
}

func (t *boltEnrollTx) Enrollments(nationalID string) ([]EnrollmentRecord, error) {
	var out []EnrollmentRecord
	err := scanPrefix(t.b(bucketEnrollments), nationalID, func(v []byte) error {
		var r EnrollmentRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// scanPrefix calls fn for every value whose key is prefix, a zero byte and
// a sequence number.
func scanPrefix(b *bolt.Bucket, prefix string, fn func(v []byte) error) error {
	p := append([]byte(prefix), 0)
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p) && len(k) == len(p)+8; k, v = c.Next() {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

func (t *boltEnrollTx) Identity(nationalID string) (Identity, error) {
	var i Identity
	return i, wrapGet("identity", getJSON(t.b(bucketIdentities), nationalID, &i))
}

func (t *boltEnrollTx) IdentityByID(id string) (Identity, error) {
	nid := t.b(bucketIdentityIDs).Get([]byte(id))
	if nid == nil {
		return Identity{}, fmt.Errorf("identity: %w", ErrNotFound)
	}
	return t.Identity(string(nid))
}

func (t *boltEnrollTx) PutIdentity(i Identity) (Identity, error) {
	if i.NationalID == "" || i.ID == "" {
		return i, errors.New("put identity: national id and id are required")
	}
	b := t.b(bucketIdentities)
	var old Identity
	switch err := getJSON(b, i.NationalID, &old); {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return i, fmt.Errorf("put identity: %w", err)
	}
	if old.Version != i.Version {
		return i, fmt.Errorf("put identity: %w", ErrConflict)
	}
	ids := t.b(bucketIdentityIDs)
	if owner := ids.Get([]byte(i.ID)); owner != nil && string(owner) != i.NationalID {
		return i, fmt.Errorf("put identity: id %s: %w", i.ID, ErrDuplicate)
	}
	i.Version++
	if err := putJSON(b, i.NationalID, i); err != nil {
		return i, fmt.Errorf("put identity: %w", err)
	}
	return i, ids.Put([]byte(i.ID), []byte(i.NationalID))
}

func (t *boltEnrollTx) Session(hash []byte) (Session, error) {
	var s Session
	return s, wrapGet("session", getJSON(t.b(bucketSessions), string(hash), &s))
}

func (t *boltEnrollTx) PutSession(s Session) error {
	if len(s.Hash) == 0 {
		return errors.New("put session: hash is required")
	}
	return putJSON(t.b(bucketSessions), string(s.Hash), s)
}

func (t *boltEnrollTx) DeleteSession(hash []byte) error {
	return t.b(bucketSessions).Delete(hash)
}

func (t *boltEnrollTx) Ceremony(id string) (WebAuthnCeremony, error) {
	var c WebAuthnCeremony
	return c, wrapGet("ceremony", getJSON(t.b(bucketCeremonies), id, &c))
}

func (t *boltEnrollTx) PutCeremony(c WebAuthnCeremony) error {
	if c.ID == "" {
		return errors.New("put ceremony: id is required")
	}
	return insertJSON(t.b(bucketCeremonies), "ceremony", c.ID, c)
}

func (t *boltEnrollTx) DeleteCeremony(id string) error {
	b := t.b(bucketCeremonies)
	if b.Get([]byte(id)) == nil {
		return fmt.Errorf("delete ceremony: %w", ErrNotFound)
	}
	return b.Delete([]byte(id))
}

func (t *boltEnrollTx) PurgeExpired(from []byte, max int, now time.Time) (int, error) {
	n := 0
	for _, name := range [][]byte{bucketSessions, bucketCeremonies} {
		b := t.b(name)
		var expired [][]byte
		c := b.Cursor()
		k, v := c.Seek(from)
		wrapped := false
		for i := 0; i < max; i++ {
			if k == nil {
				if wrapped {
					break
				}
				wrapped = true
				if k, v = c.First(); k == nil {
					break
				}
			}
			if wrapped && bytes.Compare(k, from) >= 0 {
				break
			}
			var e struct {
				Expires time.Time `json:"expires"`
			}
			if err := json.Unmarshal(v, &e); err == nil && !e.Expires.IsZero() && !now.Before(e.Expires) {
				expired = append(expired, append([]byte(nil), k...))
			}
			k, v = c.Next()
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

func (t *boltEnrollTx) Approval(id string) (Approval, error) {
	var a Approval
	return a, wrapGet("approval "+id, getJSON(t.b(bucketApprovals), id, &a))
}

func (t *boltEnrollTx) PutApproval(a Approval) error {
	if a.ID == "" {
		return errors.New("put approval: id is required")
	}
	return putJSON(t.b(bucketApprovals), a.ID, a)
}

func (t *boltEnrollTx) Approvals(status string, max int) ([]Approval, error) {
	var out []Approval
	c := t.b(bucketApprovals).Cursor()
	for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
		var a Approval
		if err := json.Unmarshal(v, &a); err != nil {
			return nil, err
		}
		if status == "" || a.Status == status {
			out = append(out, a)
		}
	}
	return out, nil
}

func (t *boltEnrollTx) AppendEvent(e Event) error {
	if e.Subject == "" || e.Action == "" {
		return errors.New("append event: subject and action are required")
	}
	b := t.b(bucketEvents)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	e.Seq = seq
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	if err := b.Put(seqKey(e.Subject, seq), raw); err != nil {
		return err
	}
	if e.AuditID != "" {
		return t.b(bucketAuditPend).Put(auditPendingKey(e), raw)
	}
	return nil
}

func (t *boltEnrollTx) Events(subject string) ([]Event, error) {
	var out []Event
	err := scanPrefix(t.b(bucketEvents), subject, func(v []byte) error {
		var e Event
		if err := json.Unmarshal(v, &e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

func insertJSON(b *bolt.Bucket, what, key string, v any) error {
	if b.Get([]byte(key)) != nil {
		return fmt.Errorf("insert %s: %w", what, ErrDuplicate)
	}
	return putJSON(b, key, v)
}

func wrapGet(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// emptyTx is the read view of a store whose enrollment buckets were never
// created: every record is missing and every write fails.
type emptyTx struct{}

var errReadOnly = errors.New("enrollment: write in a read-only transaction")

func (emptyTx) Centre(string) (Centre, error)           { return Centre{}, ErrNotFound }
func (emptyTx) Centres() ([]Centre, error)              { return nil, nil }
func (emptyTx) InsertCentre(Centre) error               { return errReadOnly }
func (emptyTx) Officer(string) (Officer, error)         { return Officer{}, ErrNotFound }
func (emptyTx) InsertOfficer(Officer) error             { return errReadOnly }
func (emptyTx) PutOfficer(Officer) error                { return errReadOnly }
func (emptyTx) Officers(string, int) ([]Officer, error) { return nil, nil }
func (emptyTx) Enrollment(string) (EnrollmentRecord, error) {
	return EnrollmentRecord{}, ErrNotFound
}
func (emptyTx) AppendEnrollment(r EnrollmentRecord) (EnrollmentRecord, error) {
	return r, errReadOnly
}
func (emptyTx) Enrollments(string) ([]EnrollmentRecord, error) { return nil, nil }
func (emptyTx) Identity(string) (Identity, error)              { return Identity{}, ErrNotFound }
func (emptyTx) IdentityByID(string) (Identity, error)          { return Identity{}, ErrNotFound }
func (emptyTx) PutIdentity(i Identity) (Identity, error)       { return i, errReadOnly }
func (emptyTx) Session([]byte) (Session, error)                { return Session{}, ErrNotFound }
func (emptyTx) PutSession(Session) error                       { return errReadOnly }
func (emptyTx) DeleteSession([]byte) error                     { return errReadOnly }
func (emptyTx) Ceremony(string) (WebAuthnCeremony, error) {
	return WebAuthnCeremony{}, ErrNotFound
}
func (emptyTx) PutCeremony(WebAuthnCeremony) error               { return errReadOnly }
func (emptyTx) DeleteCeremony(string) error                      { return errReadOnly }
func (emptyTx) PurgeExpired([]byte, int, time.Time) (int, error) { return 0, errReadOnly }
func (emptyTx) Approval(string) (Approval, error)                { return Approval{}, ErrNotFound }
func (emptyTx) PutApproval(Approval) error                       { return errReadOnly }
func (emptyTx) Approvals(string, int) ([]Approval, error)        { return nil, nil }
func (emptyTx) AppendEvent(Event) error                          { return errReadOnly }
func (emptyTx) Events(string) ([]Event, error)                   { return nil, nil }

var (
	_ EnrollmentTx = (*boltEnrollTx)(nil)
	_ EnrollmentTx = emptyTx{}
)
