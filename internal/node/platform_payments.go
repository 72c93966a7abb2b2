package node

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/thiqa/thiqa/platform/catalogue"
	"github.com/thiqa/thiqa/platform/payments"
	"github.com/thiqa/thiqa/platform/payments/sandbox"
	"github.com/thiqa/thiqa/platform/requests"
	"github.com/thiqa/thiqa/platform/seal"
)

// PlatformSeal is the platform's own e-seal, which seals payment receipts;
// its certificate comes from the organisation CA on first use.
var PlatformSeal = seal.Identity{Name: "platform", Organization: "Thiqa Platform", OrganizationAr: "منصة ثقة للخدمات الحكومية", OrgIdentifier: "GOVJO-1000"}

// PaymentsOptions say how the node collects fees.
type PaymentsOptions struct {
	// GatewayURL is the sandbox gateway's base URL and Secret the secret
	// shared with it (at least 32 bytes).
	GatewayURL string
	Secret     []byte
	// ReturnURL is where the gateway sends the citizen after paying.
	ReturnURL string
	// VerifyBaseURL starts the URL of the QR code on receipts; default
	// the verification page on ReturnURL's origin.
	VerifyBaseURL string
}

// OpenPayments sets n.Payments, fees paid through the sandbox gateway with
// receipts sealed by [PlatformSeal], and opens the service requests again
// so that fee-bearing services can be requested and are submitted only
// once paid.
func (n *Node) OpenPayments(ctx context.Context, o PaymentsOptions) error {
	st, ok := n.Store.(interface {
		payments.Store
		seal.CertStore
	})
	if !ok {
		return errors.New("open payments: the store keeps no invoices")
	}
	gw, err := sandbox.NewClient(o.GatewayURL, o.Secret, sandbox.ClientOptions{})
	if err != nil {
		return fmt.Errorf("open payments: %w", err)
	}
	sl, err := seal.Provision(ctx, n.Keys, n.CA, st, PlatformSeal, seal.ProvisionOptions{Clock: n.clock})
	if err != nil {
		return fmt.Errorf("open payments: %w", err)
	}
	if o.VerifyBaseURL == "" {
		if u, err := url.Parse(o.ReturnURL); err == nil && u.Host != "" {
			o.VerifyBaseURL = u.Scheme + "://" + u.Host + "/verify/?sig="
		}
	}
	n.Payments = payments.New(st, gw, payments.Options{Clock: n.clock, Sealer: sl, ReturnURL: o.ReturnURL, VerifyBaseURL: o.VerifyBaseURL, Audit: n.Audit})
	return n.OpenRequests(requests.FromPayments(n.Payments))
}

// catalogue is the service catalogue in the node's store, nil when the
// store keeps none.
func (n *Node) catalogue() *catalogue.Catalogue {
	st, ok := n.Store.(catalogue.Store)
	if !ok {
		return nil
	}
	return catalogue.New(st, catalogue.Options{Clock: n.clock})
}
