package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketAgencies     = []byte("sig_agencies")      // id -> agency
	bucketAgencyNames  = []byte("sig_agency_names")  // name -> id
	bucketSignRequests = []byte("sig_requests")      // id -> request
	bucketSignByCitizn = []byte("sig_by_citizen")    // national id \x00 created \x00 id -> nil
	bucketIdempotency  = []byte("sig_idempotency")   // owner \x00 key -> request id
	bucketSignBlobs    = []byte("sig_blobs")         // key -> bytes
	bucketSignEvidence = []byte("sig_evidence")      // request id \x00 evidence id -> evidence
	bucketSignAuditPnd = []byte("sig_audit_pending") // at (unix ns) || request id \x00 evidence id -> nil

	signingBuckets = [][]byte{bucketAgencies, bucketAgencyNames, bucketSignRequests, bucketSignByCitizn,
		bucketIdempotency, bucketSignBlobs, bucketSignEvidence, bucketWebhooks, bucketWebhooksDue, bucketWebhooksOf, bucketSignAuditPnd}
)

// SigningView runs fn in a read-only transaction.
func (s *Bolt) SigningView(ctx context.Context, fn func(SigningTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	missing := false
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSignInFlight) == nil {
			missing = true
			return nil
		}
		return fn(&boltSigningTx{tx: tx})
	})
	if missing {
		// First use: create the buckets, then read.
		if err := s.SigningUpdate(ctx, func(SigningTx) error { return nil }); err != nil {
			return err
		}
		return s.SigningView(ctx, fn)
	}
	return err
}

// SigningUpdate runs fn in a read-write transaction, committed durably when
// fn returns nil. Concurrent calls are grouped into one transaction, so fn
// may run more than once and must have no effect outside it.
func (s *Bolt) SigningUpdate(ctx context.Context, fn func(SigningTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Batch(func(tx *bolt.Tx) error {
		if err := createSigningIndex(tx); err != nil {
			return err
		}
		for _, b := range signingBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return fn(&boltSigningTx{tx: tx})
	})
}

type boltSigningTx struct{ tx *bolt.Tx }

func (t *boltSigningTx) b(name []byte) *bolt.Bucket { return t.tx.Bucket(name) }

func (t *boltSigningTx) Agency(id string) (Agency, error) {
	var a Agency
	return a, getJSON(t.b(bucketAgencies), id, &a)
}

func (t *boltSigningTx) AgencyByName(name string) (Agency, error) {
	id := t.b(bucketAgencyNames).Get([]byte(name))
	if id == nil {
		return Agency{}, ErrNotFound
	}
	return t.Agency(string(id))
}

func (t *boltSigningTx) InsertAgency(a Agency) error {
	if a.ID == "" || a.Name == "" {
		return fmt.Errorf("insert agency: id and name are required")
	}
	if t.b(bucketAgencies).Get([]byte(a.ID)) != nil || t.b(bucketAgencyNames).Get([]byte(a.Name)) != nil {
		return ErrDuplicate
	}
	if err := t.b(bucketAgencyNames).Put([]byte(a.Name), []byte(a.ID)); err != nil {
		return err
	}
	return putJSON(t.b(bucketAgencies), a.ID, a)
}

func (t *boltSigningTx) PutAgency(a Agency) error {
	var old Agency
	if err := getJSON(t.b(bucketAgencies), a.ID, &old); err != nil {
		return err
	}
	if old.Name != a.Name {
		return fmt.Errorf("put agency: the name cannot change")
	}
	return putJSON(t.b(bucketAgencies), a.ID, a)
}

func (t *boltSigningTx) Agencies() ([]Agency, error) {
	var out []Agency
	err := t.b(bucketAgencies).ForEach(func(_, v []byte) error {
		var a Agency
		if err := json.Unmarshal(v, &a); err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

func (t *boltSigningTx) SignRequest(id string) (SignRequest, error) {
	var r SignRequest
	return r, getJSON(t.b(bucketSignRequests), id, &r)
}

func citizenKey(r SignRequest) []byte {
	return []byte(r.NationalID + "\x00" + r.Created.UTC().Format("20060102T150405.000000000") + "\x00" + r.ID)
}

func (t *boltSigningTx) PutSignRequest(r SignRequest) (SignRequest, error) {
	if r.ID == "" || r.NationalID == "" {
		return r, fmt.Errorf("put sign request: id and national id are required")
	}
	var old SignRequest
	err := getJSON(t.b(bucketSignRequests), r.ID, &old)
	switch {
	case errors.Is(err, ErrNotFound) && r.Version != 0, err == nil && old.Version != r.Version:
		return r, ErrConflict
	case err == nil && (old.NationalID != r.NationalID || !old.Created.Equal(r.Created)):
		return r, fmt.Errorf("put sign request: citizen and creation time cannot change")
	case err != nil && !errors.Is(err, ErrNotFound):
		return r, err
	}
	r.Version++
	if err := t.b(bucketSignByCitizn).Put(citizenKey(r), nil); err != nil {
		return r, err
	}
	if err := t.indexSigning(r); err != nil {
		return r, err
	}
	return r, putJSON(t.b(bucketSignRequests), r.ID, r)
}

// maxListed bounds a citizen's listing.
const maxListed = 1000

func (t *boltSigningTx) SignRequestsOf(nationalID string) ([]SignRequest, error) {
	var out []SignRequest
	prefix := []byte(nationalID + "\x00")
	c := t.b(bucketSignByCitizn).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < maxListed; k, _ = c.Next() {
		id := k[bytes.LastIndexByte(k, 0)+1:]
		r, err := t.SignRequest(string(id))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (t *boltSigningTx) Idempotency(owner, key string) (string, error) {
	v := t.b(bucketIdempotency).Get([]byte(owner + "\x00" + key))
	if v == nil {
		return "", ErrNotFound
	}
	return string(v), nil
}

func (t *boltSigningTx) PutIdempotency(owner, key, requestID string) error {
	k := []byte(owner + "\x00" + key)
	if t.b(bucketIdempotency).Get(k) != nil {
		return ErrDuplicate
	}
	return t.b(bucketIdempotency).Put(k, []byte(requestID))
}

func (t *boltSigningTx) NextBlobSequence() (uint64, error) {
	return t.b(bucketSignBlobs).NextSequence()
}

func (t *boltSigningTx) BlobKeys(prefix string, max int) ([]string, error) {
	var out []string
	c := t.b(bucketSignBlobs).Cursor()
	for k, _ := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)) && len(out) < max; k, _ = c.Next() {
		out = append(out, string(k))
	}
	return out, nil
}

func (t *boltSigningTx) PutBlob(key string, b []byte) error {
	return t.b(bucketSignBlobs).Put([]byte(key), b)
}

func (t *boltSigningTx) Blob(key string) ([]byte, error) {
	v := t.b(bucketSignBlobs).Get([]byte(key))
	if v == nil {
		return nil, ErrNotFound
	}
	return bytes.Clone(v), nil
}

func (t *boltSigningTx) PutEvidence(e SignEvidence) error {
	if e.ID == "" || e.RequestID == "" {
		return fmt.Errorf("put evidence: id and request id are required")
	}
	k := e.RequestID + "\x00" + e.ID
	if t.b(bucketSignEvidence).Get([]byte(k)) != nil {
		return ErrDuplicate
	}
	if err := putJSON(t.b(bucketSignEvidence), k, e); err != nil {
		return err
	}
	return t.b(bucketSignAuditPnd).Put(evidencePendingKey(e), nil)
}

func (t *boltSigningTx) EvidenceOf(requestID string) ([]SignEvidence, error) {
	var out []SignEvidence
	prefix := []byte(requestID + "\x00")
	c := t.b(bucketSignEvidence).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var e SignEvidence
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
