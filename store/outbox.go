package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketWebhooks     = []byte("sig_webhooks")      // id -> delivery
	bucketWebhooksDue  = []byte("sig_webhooks_due")  // due (8, big-endian ns) id -> nil, pending only
	bucketWebhooksOf   = []byte("sig_webhooks_of")   // request id \x00 id -> nil
	bucketSignInFlight = []byte("sig_state_signing") // request id -> nil, requests in state signing
)

func dueKey(d WebhookDelivery) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(max(d.Due().UnixNano(), 0)))
	return append(k, d.ID...)
}

func (t *boltSigningTx) PutWebhook(d WebhookDelivery) (WebhookDelivery, error) {
	if d.ID == "" || d.RequestID == "" {
		return d, fmt.Errorf("put webhook: id and request id are required")
	}
	var old WebhookDelivery
	err := getJSON(t.b(bucketWebhooks), d.ID, &old)
	switch {
	case errors.Is(err, ErrNotFound) && d.Version != 0, err == nil && old.Version != d.Version:
		return d, ErrConflict
	case err != nil && !errors.Is(err, ErrNotFound):
		return d, err
	case err == nil:
		if old.RequestID != d.RequestID {
			return d, fmt.Errorf("put webhook: the request cannot change")
		}
		if err := t.b(bucketWebhooksDue).Delete(dueKey(old)); err != nil {
			return d, err
		}
	}
	d.Version++
	if d.State == WebhookPending {
		if err := t.b(bucketWebhooksDue).Put(dueKey(d), nil); err != nil {
			return d, err
		}
	}
	if err := t.b(bucketWebhooksOf).Put([]byte(d.RequestID+"\x00"+d.ID), nil); err != nil {
		return d, err
	}
	return d, putJSON(t.b(bucketWebhooks), d.ID, d)
}

func (t *boltSigningTx) Webhook(id string) (WebhookDelivery, error) {
	var d WebhookDelivery
	return d, getJSON(t.b(bucketWebhooks), id, &d)
}

func (t *boltSigningTx) DueWebhooks(now time.Time, max int) ([]WebhookDelivery, error) {
	var out []WebhookDelivery
	limit := binary.BigEndian.AppendUint64(nil, uint64(max0(now.UnixNano())))
	c := t.b(bucketWebhooksDue).Cursor()
	for k, _ := c.First(); k != nil && len(out) < max && bytes.Compare(k[:8], limit) <= 0; k, _ = c.Next() {
		d, err := t.Webhook(string(k[8:]))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func max0(n int64) int64 { return max(n, 0) }

func (t *boltSigningTx) WebhooksOf(requestID string) ([]WebhookDelivery, error) {
	var out []WebhookDelivery
	prefix := []byte(requestID + "\x00")
	c := t.b(bucketWebhooksOf).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		d, err := t.Webhook(string(k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func (t *boltSigningTx) SignRequestsInState(state string, max int) ([]SignRequest, error) {
	if state != SignSigning {
		return nil, fmt.Errorf("sign requests in state %q: only %q is indexed", state, SignSigning)
	}
	var out []SignRequest
	c := t.b(bucketSignInFlight).Cursor()
	for k, _ := c.First(); k != nil && len(out) < max; k, _ = c.Next() {
		r, err := t.SignRequest(string(k))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// indexSigning keeps bucketSignInFlight in step with r's state.
func (t *boltSigningTx) indexSigning(r SignRequest) error {
	if r.State == SignSigning {
		return t.b(bucketSignInFlight).Put([]byte(r.ID), nil)
	}
	return t.b(bucketSignInFlight).Delete([]byte(r.ID))
}

// createSigningIndex creates bucketSignInFlight and fills it from the
// requests stored before it existed.
func createSigningIndex(tx *bolt.Tx) error {
	if tx.Bucket(bucketSignInFlight) != nil {
		return nil
	}
	idx, err := tx.CreateBucket(bucketSignInFlight)
	if err != nil {
		return err
	}
	reqs := tx.Bucket(bucketSignRequests)
	if reqs == nil {
		return nil
	}
	return reqs.ForEach(func(k, v []byte) error {
		var r struct {
			State string `json:"state"`
		}
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		if r.State == SignSigning {
			return idx.Put(k, nil)
		}
		return nil
	})
}
