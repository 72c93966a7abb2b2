package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketServiceRequests = []byte("req_requests")   // id -> request
	bucketReqByCitizen    = []byte("req_by_citizen") // national id \x00 queue key -> id
	bucketReqByAgency     = []byte("req_by_agency")  // agency \x00 state \x00 queue key -> id
	bucketReqBlobs        = []byte("req_blobs")      // key -> bytes

	requestBuckets = [][]byte{bucketServiceRequests, bucketReqByCitizen, bucketReqByAgency, bucketReqBlobs}
)

// RequestsView runs fn in a read-only transaction.
func (s *Bolt) RequestsView(ctx context.Context, fn func(RequestsTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	missing := false
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketServiceRequests) == nil {
			missing = true
			return nil
		}
		return fn(&boltRequestsTx{tx: tx})
	})
	if missing {
		if err := s.RequestsUpdate(ctx, func(RequestsTx) error { return nil }); err != nil {
			return err
		}
		return s.RequestsView(ctx, fn)
	}
	return err
}

// RequestsUpdate runs fn in a read-write transaction, committed durably
// when fn returns nil. Concurrent calls are grouped into one transaction,
// so fn may run more than once and must have no effect outside it.
func (s *Bolt) RequestsUpdate(ctx context.Context, fn func(RequestsTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Batch(func(tx *bolt.Tx) error {
		for _, b := range requestBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return fn(&boltRequestsTx{tx: tx})
	})
}

type boltRequestsTx struct{ tx *bolt.Tx }

func (t *boltRequestsTx) b(name []byte) *bolt.Bucket { return t.tx.Bucket(name) }

func (t *boltRequestsTx) ServiceRequest(id string) (ServiceRequest, error) {
	var r ServiceRequest
	return r, getJSON(t.b(bucketServiceRequests), id, &r)
}

func agencyQueueKey(agency, state string, r ServiceRequest) []byte {
	return []byte(agency + "\x00" + state + "\x00" + r.QueueKey())
}

func (t *boltRequestsTx) PutServiceRequest(r ServiceRequest) (ServiceRequest, error) {
	old, err := t.ServiceRequest(r.ID)
	if err := checkServiceRequestPut(old, err, r); err != nil {
		return r, err
	}
	if err == nil {
		if err := t.b(bucketReqByAgency).Delete(agencyQueueKey(old.Agency, old.State, old)); err != nil {
			return r, err
		}
	}
	r.Version++
	if err := t.b(bucketReqByAgency).Put(agencyQueueKey(r.Agency, r.State, r), []byte(r.ID)); err != nil {
		return r, err
	}
	if err := t.b(bucketReqByCitizen).Put([]byte(r.NationalID+"\x00"+r.QueueKey()), []byte(r.ID)); err != nil {
		return r, err
	}
	return r, putJSON(t.b(bucketServiceRequests), r.ID, r)
}

// checkServiceRequestPut says whether r may be stored over old, which
// reading it gave with getErr: the required fields are set, r.Version is
// the stored version (0 for a new request), and the citizen, agency,
// service and creation time stay as they were. Every store checks a put
// with it.
func checkServiceRequestPut(old ServiceRequest, getErr error, r ServiceRequest) error {
	if r.ID == "" || r.NationalID == "" || r.Agency == "" || r.State == "" {
		return fmt.Errorf("put service request: id, national id, agency and state are required")
	}
	switch {
	case errors.Is(getErr, ErrNotFound) && r.Version != 0, getErr == nil && old.Version != r.Version:
		return ErrConflict
	case getErr == nil && !(old.NationalID == r.NationalID && old.Agency == r.Agency && old.Service == r.Service && old.Created.Equal(r.Created)):
		return fmt.Errorf("put service request: citizen, agency, service and creation time cannot change")
	case getErr != nil && !errors.Is(getErr, ErrNotFound):
		return getErr
	}
	return nil
}

func (t *boltRequestsTx) list(bucket, prefix []byte, after string, max int) ([]ServiceRequest, error) {
	c := t.b(bucket).Cursor()
	start := prefix
	if after != "" {
		start = append(bytes.Clone(prefix), after...)
	}
	var out []ServiceRequest
	for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix) && len(out) < max; k, v = c.Next() {
		if after != "" && string(k[len(prefix):]) <= after {
			continue
		}
		r, err := t.ServiceRequest(string(v))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (t *boltRequestsTx) ServiceRequestsOf(nationalID string) ([]ServiceRequest, error) {
	// The newest maxListed, walking back from the end of the prefix.
	prefix := []byte(nationalID + "\x00")
	end := append([]byte(nationalID), 1)
	c := t.b(bucketReqByCitizen).Cursor()
	var k, v []byte
	if k, _ = c.Seek(end); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	var out []ServiceRequest
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < maxListed; k, v = c.Prev() {
		r, err := t.ServiceRequest(string(v))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	slices.Reverse(out)
	return out, nil
}

func (t *boltRequestsTx) AgencyQueue(agency, state string, p Page) ([]ServiceRequest, error) {
	return t.list(bucketReqByAgency, []byte(agency+"\x00"+state+"\x00"), p.After, p.limit())
}

func (t *boltRequestsTx) PutRequestBlob(key string, b []byte) error {
	if key == "" {
		return fmt.Errorf("put request blob: key is required")
	}
	if t.b(bucketReqBlobs).Get([]byte(key)) != nil {
		return ErrDuplicate
	}
	return t.b(bucketReqBlobs).Put([]byte(key), b)
}

func (t *boltRequestsTx) RequestBlob(key string) ([]byte, error) {
	v := t.b(bucketReqBlobs).Get([]byte(key))
	if v == nil {
		return nil, ErrNotFound
	}
	return bytes.Clone(v), nil
}

var _ RequestsTx = (*boltRequestsTx)(nil)
