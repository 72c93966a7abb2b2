package signing

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/thiqa/thiqa/store"
)

// Webhook is the body of a webhook: a request reached a final state.
type Webhook struct {
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

// notify sends the agency's webhook, if it has one, in the background
// (one attempt, bounded by the client's timeout; agencies can poll).
func (s *Service) notify(r store.SignRequest) {
	if r.Agency == "" {
		return
	}
	var a store.Agency
	err := s.st.SigningView(context.Background(), func(tx store.SigningTx) (err error) {
		a, err = tx.Agency(r.Agency)
		return err
	})
	if err != nil || a.WebhookURL == "" {
		return
	}
	now := s.now()
	body, _ := json.Marshal(Webhook{Event: "sign-request." + r.State, RequestID: r.ID, State: r.State, At: now})
	ts := strconv.FormatInt(now.Unix(), 10)
	s.hooks.Add(1)
	go func() {
		defer s.hooks.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.WebhookURL, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Thiqa-Timestamp", ts)
		req.Header.Set("X-Thiqa-Signature", WebhookSignature(a.WebhookSecret, ts, body))
		if resp, err := s.opts.Webhooks.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
}
