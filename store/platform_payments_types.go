package store

import "time"

// Invoice states. A paid invoice becomes refunded when refunds reach its
// amount; a partial refund leaves it paid with RefundedFils set.
const (
	InvoiceOpen     = "open"
	InvoicePaid     = "paid"
	InvoiceRefunded = "refunded"
)

// Invoice is a fee to be paid (package platform/payments). Amounts are
// integer fils.
type Invoice struct {
	ID string `json:"id"`
	// Reference is what the fee is for (a service request's ID); unique.
	Reference string `json:"reference"`
	// Payer is the national ID of the citizen who pays.
	Payer         string `json:"payer"`
	DescriptionAr string `json:"description_ar,omitempty"`
	DescriptionEn string `json:"description_en,omitempty"`
	AmountFils    int64  `json:"amount_fils"`
	Currency      string `json:"currency"`
	State         string `json:"state"`
	// Gateway and GatewayTxn identify the payment at the gateway.
	Gateway      string    `json:"gateway,omitempty"`
	GatewayTxn   string    `json:"gateway_txn,omitempty"`
	RefundedFils int64     `json:"refunded_fils,omitempty"`
	Refunds      []Refund  `json:"refunds,omitempty"`
	Created      time.Time `json:"created"`
	Paid         time.Time `json:"paid,omitzero"`
	Version      int64     `json:"version"`
	// AuditPending, set by UpdateInvoice's fn, is kept pending audit in
	// the update's own transaction; it is not part of the stored invoice.
	AuditPending *PendingAudit `json:"-"`
}

// Refund is money given back on a paid invoice.
type Refund struct {
	ID         string    `json:"id"` // the gateway's refund ID
	AmountFils int64     `json:"amount_fils"`
	Reason     string    `json:"reason,omitempty"`
	By         string    `json:"by,omitempty"` // who asked: "officer:<username>"
	At         time.Time `json:"at"`
}
