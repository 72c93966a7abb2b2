package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/thiqa/thiqa/platform/payments"
)

// Client is Thiqa's adapter for the sandbox gateway.
type Client struct {
	base   string
	secret []byte
	http   *http.Client
	clock  func() time.Time
}

var _ payments.Gateway = (*Client)(nil)

// ClientOptions configure a Client; the zero value is usable.
type ClientOptions struct {
	HTTPClient *http.Client
	Clock      func() time.Time
}

// NewClient returns the adapter for the gateway at baseURL that shares
// secret with Thiqa.
func NewClient(baseURL string, secret []byte, opts ClientOptions) (*Client, error) {
	if len(secret) < MinSecret {
		return nil, fmt.Errorf("sandbox client: secret of %d bytes, want at least %d", len(secret), MinSecret)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), secret: secret, http: opts.HTTPClient, clock: opts.Clock}, nil
}

// Name is "sandbox".
func (c *Client) Name() string { return "sandbox" }

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	msg := []byte(path)
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
		msg = body
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range Sign(c.secret, msg, c.clock()) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		json.Unmarshal(raw, &e)
		return fmt.Errorf("sandbox gateway %s %s: %s: %s", method, path, resp.Status, e.Error)
	}
	return json.Unmarshal(raw, out)
}

// Checkout implements payments.Gateway.
func (c *Client) Checkout(ctx context.Context, inv payments.Invoice, returnURL string) (string, error) {
	var out CheckoutResponse
	err := c.call(ctx, http.MethodPost, "/v1/checkouts", CheckoutRequest{InvoiceID: inv.ID, AmountFils: inv.AmountFils,
		Currency: inv.Currency, Description: inv.DescriptionEn, ReturnURL: returnURL}, &out)
	return out.URL, err
}

// Refund implements payments.Gateway.
func (c *Client) Refund(ctx context.Context, txn string, amountFils int64, key string) (string, error) {
	var out RefundResponse
	err := c.call(ctx, http.MethodPost, "/v1/refunds", RefundRequest{TransactionID: txn, AmountFils: amountFils, IdempotencyKey: key}, &out)
	return out.ID, err
}

// Transactions implements payments.Gateway.
func (c *Client) Transactions(ctx context.Context) ([]payments.Transaction, error) {
	var out []payments.Transaction
	err := c.call(ctx, http.MethodGet, "/v1/transactions", nil, &out)
	return out, err
}

// MaxCallback bounds a callback body.
const MaxCallback = 16 << 10

// ParseCallback implements payments.Gateway: the signature and the
// timestamp are checked first, then the body is decoded strictly.
func (c *Client) ParseCallback(h http.Header, body []byte) (payments.Event, error) {
	if len(body) > MaxCallback {
		return payments.Event{}, fmt.Errorf("%w: body larger than %d bytes", payments.ErrCallback, MaxCallback)
	}
	if err := Verify(c.secret, h, body, c.clock()); err != nil {
		return payments.Event{}, fmt.Errorf("%w: %w", payments.ErrCallback, err)
	}
	return DecodeCallback(body)
}

// DecodeCallback decodes an authenticated callback body.
func DecodeCallback(body []byte) (payments.Event, error) {
	var cb Callback
	if err := decodeStrict(body, &cb); err != nil {
		return payments.Event{}, fmt.Errorf("%w: body: %w", payments.ErrCallback, err)
	}
	if cb.TransactionID == "" || cb.InvoiceID == "" || len(cb.TransactionID) > 64 || len(cb.InvoiceID) > 64 {
		return payments.Event{}, fmt.Errorf("%w: transaction_id and invoice_id are required", payments.ErrCallback)
	}
	return payments.Event{Kind: cb.Type, TxnID: cb.TransactionID, InvoiceID: cb.InvoiceID, AmountFils: cb.AmountFils,
		Currency: cb.Currency, At: cb.Created}, nil
}
