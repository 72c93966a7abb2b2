package signing

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/store"
)

// Webhooks leave through an outbox. The transaction that moves a request to
// a final state also writes a [store.WebhookDelivery]; after it commits, the
// service tries to deliver at once, and [Service.Run] (one per
// replica) delivers what is due: each worker claims a batch with a lease,
// posts each delivery, and records the outcome. A delivery that fails is
// tried again after an exponential backoff with jitter, at most
// Options.WebhookAttempts times in all, then marked failed with its last
// error. Delivery is at least once: a receiver may see a delivery again
// (a worker that crashed after posting), and recognises it by its
// X-Thiqa-Delivery id, which the body carries too.

// Webhook is the body of a webhook: a request reached a final state.
type Webhook struct {
	// ID identifies the delivery: the same on every attempt.
	ID        string    `json:"id"`
	Event     string    `json:"event"` // "sign-request.<state>"
	RequestID string    `json:"request_id"`
	State     string    `json:"state"`
	At        time.Time `json:"at"`
}

// WebhookSignature is the value of the X-Thiqa-Signature header:
// "sha256=" and the hex HMAC-SHA256, under the agency's webhook secret, of
// the X-Thiqa-Timestamp value, a dot and the body.
func WebhookSignature(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// enqueueWebhook writes, in tx, the delivery announcing r's state to its
// agency when the agency has a webhook. It reports whether it wrote one.
func (s *Service) enqueueWebhook(tx store.SigningTx, r store.SignRequest) (bool, error) {
	if r.Agency == "" {
		return false, nil
	}
	a, err := tx.Agency(r.Agency)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil || a.WebhookURL == "" {
		return false, err
	}
	id, err := s.randomID(16)
	if err != nil {
		return false, err
	}
	now := s.now()
	body, err := json.Marshal(Webhook{ID: id, Event: "sign-request." + r.State, RequestID: r.ID, State: r.State, At: now})
	if err != nil {
		return false, err
	}
	_, err = tx.PutWebhook(store.WebhookDelivery{ID: id, Agency: a.ID, RequestID: r.ID, Event: "sign-request." + r.State,
		Body: body, Created: now, State: store.WebhookPending, NextAttempt: now})
	return err == nil, err
}

// kick delivers what is due in the background, right after a commit that
// queued a webhook (Wait waits for it). Kicks that come while a delivery
// round runs are folded into one more round, so that a burst of approvals
// does not start a claiming transaction each.
func (s *Service) kick() {
	s.kickAgain.Store(true)
	if !s.kicking.CompareAndSwap(false, true) {
		return // the running round will go again
	}
	s.hooks.Add(1)
	go func() {
		defer s.hooks.Done()
		for {
			for s.kickAgain.Swap(false) {
				s.deliverAllDue()
			}
			s.kicking.Store(false)
			// A kick between the last round and the release: go again,
			// unless it started its own round.
			if !s.kickAgain.Load() || !s.kicking.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

// deliverAllDue delivers due webhooks batch after batch until a batch is
// not full.
func (s *Service) deliverAllDue() {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.WebhookLease)
		n, err := s.DeliverWebhooks(ctx)
		cancel()
		if err != nil || n < webhookBatch {
			return
		}
	}
}

// webhookBatch bounds the deliveries one worker claims at once.
const webhookBatch = 32

// DeliverWebhooks claims the deliveries due now, posts them concurrently
// and records each outcome. It returns how many it attempted.
func (s *Service) DeliverWebhooks(ctx context.Context) (int, error) {
	claimed, err := s.claimWebhooks(ctx)
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, d := range claimed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, err := s.post(ctx, d)
			s.recordAttempt(ctx, d, status, err)
		}()
	}
	wg.Wait()
	return len(claimed), nil
}

// claimWebhooks leases the due deliveries to this worker.
func (s *Service) claimWebhooks(ctx context.Context) ([]store.WebhookDelivery, error) {
	var claimed []store.WebhookDelivery
	err := s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		claimed = claimed[:0]
		now := s.now()
		due, err := tx.DueWebhooks(now, webhookBatch)
		if err != nil {
			return err
		}
		for _, d := range due {
			d.LeaseOwner, d.LeaseUntil = s.worker, now.Add(s.opts.WebhookLease)
			if d, err = tx.PutWebhook(d); err != nil {
				return err
			}
			claimed = append(claimed, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim webhooks: %w", err)
	}
	return claimed, nil
}

// post makes one attempt at delivering d; a 2xx answer is success.
func (s *Service) post(ctx context.Context, d store.WebhookDelivery) (int, error) {
	var a store.Agency
	err := s.st.SigningView(ctx, func(tx store.SigningTx) (err error) {
		a, err = tx.Agency(d.Agency)
		return err
	})
	switch {
	case err != nil:
		return 0, fmt.Errorf("agency: %w", err)
	case a.Disabled || a.WebhookURL == "":
		return 0, errGiveUp
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.WebhookURL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, errGiveUp
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Thiqa-Delivery", d.ID)
	req.Header.Set("X-Thiqa-Attempt", strconv.Itoa(d.Attempts+1))
	req.Header.Set("X-Thiqa-Timestamp", ts)
	req.Header.Set("X-Thiqa-Signature", WebhookSignature(a.WebhookSecret, ts, d.Body))
	resp, err := s.opts.Webhooks.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// errGiveUp marks a delivery that no retry can make succeed (the agency
// was disabled or lost its webhook).
var errGiveUp = errors.New("the agency has no webhook any more")

// recordAttempt stores the outcome of an attempt at d. When the lease was
// lost meanwhile (the attempt took longer than the lease and another
// worker claimed d), the other worker's record stands.
func (s *Service) recordAttempt(ctx context.Context, d store.WebhookDelivery, status int, sendErr error) {
	now := s.now()
	d.Attempts++
	d.LastStatus, d.LeaseOwner, d.LeaseUntil = status, "", time.Time{}
	switch {
	case sendErr == nil:
		d.State, d.Done, d.LastError = store.WebhookDelivered, now, ""
	case errors.Is(sendErr, errGiveUp) || d.Attempts >= s.opts.WebhookAttempts:
		d.State, d.Done, d.LastError = store.WebhookFailed, now, truncate(sendErr.Error(), 500)
	default:
		d.LastError, d.NextAttempt = truncate(sendErr.Error(), 500), now.Add(s.backoff(d.Attempts))
	}
	// A fresh context: the outcome is recorded even when ctx ended during
	// the attempt, so that a delivered webhook is not sent again.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var kept *audit.Event
	err := s.st.SigningUpdate(rctx, func(tx store.SigningTx) error {
		kept = nil
		cur, err := tx.Webhook(d.ID)
		if err != nil || cur.LeaseOwner != s.worker || cur.Version != d.Version {
			return err
		}
		if _, err = tx.PutWebhook(d); err != nil || d.State != store.WebhookFailed {
			return err
		}
		// Giving up is an event an operator must be able to find.
		kept, err = s.keepAudit(tx, "", audit.Event{Actor: "system:signing", Action: "signing.webhook-failed",
			Subject: "sign-request:" + d.RequestID, Details: map[string]any{"delivery": d.ID, "agency": d.Agency,
				"attempts": d.Attempts, "last_status": d.LastStatus, "last_error": d.LastError},
			Source: "signing.webhook-failed:" + d.ID})
		return err
	})
	if err == nil {
		// A failed append is caught up by the node (the record is kept).
		_ = s.appendKept(rctx, kept)
	}
}

// backoff is the wait after the n-th failed attempt: WebhookBackoff
// doubled n-1 times, at most WebhookMaxBackoff, with "equal jitter" (a
// random half of it added to the other half) so that a receiver coming
// back is not hit by every replica at once.
func (s *Service) backoff(n int) time.Duration {
	d := s.opts.WebhookBackoff
	for i := 1; i < n && d < s.opts.WebhookMaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.opts.WebhookMaxBackoff)
	var b [8]byte
	if _, err := io.ReadFull(s.opts.Rand, b[:]); err != nil {
		return d
	}
	half := d / 2
	return half + time.Duration(binary.BigEndian.Uint64(b[:])%uint64(half+1))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
