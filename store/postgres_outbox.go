package store

import (
	"encoding/json"
	"fmt"
	"time"
)

func (t *pgSigningTx) PutWebhook(d WebhookDelivery) (WebhookDelivery, error) {
	if d.ID == "" || d.RequestID == "" {
		return d, fmt.Errorf("put webhook: id and request id are required")
	}
	prev := d.Version
	d.Version++
	raw, err := json.Marshal(d)
	if err != nil {
		return d, fmt.Errorf("put webhook: %w", err)
	}
	var n int64
	if prev == 0 {
		tag, err := t.tx.Exec(t.ctx, `INSERT INTO sig_webhooks (id, request_id, state, due, version, doc)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, d.ID, d.RequestID, d.State, d.Due(), int64(d.Version), raw)
		if err != nil {
			return d, fmt.Errorf("put webhook: %w", err)
		}
		n = tag.RowsAffected()
	} else {
		tag, err := t.tx.Exec(t.ctx, `UPDATE sig_webhooks SET state = $2, due = $3, version = $4, doc = $5
			WHERE id = $1 AND version = $6 AND request_id = $7`, d.ID, d.State, d.Due(), int64(d.Version), raw, int64(prev), d.RequestID)
		if err != nil {
			return d, fmt.Errorf("put webhook: %w", err)
		}
		n = tag.RowsAffected()
	}
	if n == 0 {
		d.Version = prev
		return d, ErrConflict
	}
	return d, nil
}

func (t *pgSigningTx) Webhook(id string) (WebhookDelivery, error) {
	var d WebhookDelivery
	return d, bare(t.getDoc("webhook", &d, "SELECT doc FROM sig_webhooks WHERE id = $1", id))
}

func (t *pgSigningTx) DueWebhooks(now time.Time, max int) ([]WebhookDelivery, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT doc FROM sig_webhooks WHERE state = 'pending' AND due <= $1
		ORDER BY due, id LIMIT $2`, now, max)
	if err != nil {
		return nil, fmt.Errorf("due webhooks: %w", err)
	}
	return collectDocs[WebhookDelivery](rows)
}

func (t *pgSigningTx) WebhooksOf(requestID string) ([]WebhookDelivery, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT doc FROM sig_webhooks WHERE request_id = $1 ORDER BY id", requestID)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	return collectDocs[WebhookDelivery](rows)
}

func (t *pgSigningTx) SignRequestsInState(state string, max int) ([]SignRequest, error) {
	if state != SignSigning {
		return nil, fmt.Errorf("sign requests in state %q: only %q is indexed", state, SignSigning)
	}
	rows, err := t.tx.Query(t.ctx, "SELECT doc FROM sig_requests WHERE doc->>'state' = 'signing' ORDER BY id LIMIT $1", max)
	if err != nil {
		return nil, fmt.Errorf("sign requests in state: %w", err)
	}
	return collectDocs[SignRequest](rows)
}
