package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/platform/catalogue"
	"github.com/thiqa/thiqa/platform/payments"
	"github.com/thiqa/thiqa/platform/payments/sandbox"
	"github.com/thiqa/thiqa/signer/validate"
)

// TestPaymentsAreWired: the node's handler serves the catalogue and takes
// the sandbox gateway's callback; a paid invoice's receipt is sealed by
// the platform's e-seal and validates.
func TestPaymentsAreWired(t *testing.T) {
	ctx := context.Background()
	n, _, err := Open(ctx, Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := n.catalogue().Put(ctx, catalogue.Service{Code: "CSPD-001", Agency: "CSPD", NameAr: "شهادة ميلاد", NameEn: "Birth certificate", FeeFils: 2000, Channel: "online"}); err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	mux := http.NewServeMux()
	gateway := httptest.NewServer(mux)
	defer gateway.Close()
	if err := n.OpenPayments(ctx, PaymentsOptions{GatewayURL: gateway.URL, Secret: secret, ReturnURL: "http://localhost:8080/app/"}); err != nil {
		t.Fatal(err)
	}
	thiqa := httptest.NewServer(n.Handler())
	defer thiqa.Close()
	gw, err := sandbox.NewServer(sandbox.ServerOptions{Secret: secret, CallbackURL: thiqa.URL + "/api/v1/payments/callback", PublicURL: gateway.URL})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", gw.Handler())

	resp, err := http.Get(thiqa.URL + "/api/v1/services?q=" + url.QueryEscape("شهاده"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "CSPD-001") {
		t.Fatalf("catalogue: %d %s", resp.StatusCode, body)
	}
	inv, err := n.Payments.CreateInvoice(ctx, payments.InvoiceRequest{Reference: "req-1", Payer: "9861234567", AmountFils: 2000})
	if err != nil {
		t.Fatal(err)
	}
	u, err := n.Payments.Checkout(ctx, inv.ID, "9861234567")
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.PostForm(u, url.Values{"card": {sandbox.CardPays}, "action": {"pay"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if ok, _ := n.Payments.Paid(ctx, inv.ID); !ok {
		t.Fatalf("not paid after the gateway's callback:\n%s", body)
	}
	pdf, err := n.Payments.Receipt(ctx, inv.ID, "9861234567")
	if err != nil {
		t.Fatal(err)
	}
	root, _ := n.CA.AuthorityCertificate(ca.Root)
	rep, err := validate.Validate(ctx, bytes.NewReader(pdf), int64(len(pdf)), &validate.Options{TrustAnchors: []*x509.Certificate{root}})
	if err != nil || rep.Indication != validate.TotalPassed {
		t.Fatalf("receipt: %v %+v", err, rep)
	}
}
