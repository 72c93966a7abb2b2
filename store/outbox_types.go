package store

import "time"

// Webhook delivery states.
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed" // gave up after the last attempt
)

// WebhookDelivery is one webhook in the outbox: written in the same
// transaction as the state change it reports, then delivered at least once
// by whichever replica claims it.
type WebhookDelivery struct {
	// ID is the idempotency id the receiver sees (X-Thiqa-Delivery).
	ID        string    `json:"id"`
	Agency    string    `json:"agency"`
	RequestID string    `json:"request_id"`
	Event     string    `json:"event"`
	Body      []byte    `json:"body"`
	Created   time.Time `json:"created"`
	State     string    `json:"state"`
	// Attempts made so far; NextAttempt is when the next may start.
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	// LeaseOwner holds the delivery until LeaseUntil; another worker may
	// claim it after that (the holder crashed).
	LeaseOwner string    `json:"lease_owner,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	// LastStatus is the HTTP status of the last attempt (0: no answer)
	// and LastError what went wrong.
	LastStatus int       `json:"last_status,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
	Done       time.Time `json:"done,omitzero"`
	Version    uint64    `json:"version"`
}

// Due is when the delivery may next be claimed: the later of NextAttempt
// and the end of its lease.
func (d WebhookDelivery) Due() time.Time {
	if d.LeaseUntil.After(d.NextAttempt) {
		return d.LeaseUntil
	}
	return d.NextAttempt
}
