package requests

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// Webhook is the body of a webhook: a request submitted to the agency
// changed state (submitted, accepted, rejected).
type Webhook struct {
	Event     string    `json:"event"` // "service-request.<state>"
	RequestID string    `json:"request_id"`
	Service   string    `json:"service"`
	From      string    `json:"from,omitempty"`
	State     string    `json:"state"`
	At        time.Time `json:"at"`
}

// notify sends the transition to the agency's webhook, if it has one, in
// the background (one attempt; the agency can poll its queue). The
// headers are those of the signing service's webhooks: X-Thiqa-Timestamp
// and X-Thiqa-Signature ([signing.WebhookSignature]).
func (s *Service) notify(r store.ServiceRequest, tr store.RequestTransition) {
	if !agencyStates[tr.To] {
		return // not the agency's business (yet, or ever)
	}
	var a store.Agency
	err := s.d.Store.SigningView(context.Background(), func(tx store.SigningTx) (err error) {
		a, err = tx.Agency(r.Agency)
		return err
	})
	if err != nil || a.WebhookURL == "" {
		return
	}
	body, err := json.Marshal(Webhook{Event: "service-request." + tr.To, RequestID: r.ID, Service: r.Service,
		From: tr.From, State: tr.To, At: tr.At})
	if err != nil {
		return
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
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
		req.Header.Set("X-Thiqa-Signature", signing.WebhookSignature(a.WebhookSecret, ts, body))
		if resp, err := s.opts.Webhooks.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
}
