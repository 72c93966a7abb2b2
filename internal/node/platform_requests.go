package node

import (
	"crypto/x509"
	"errors"
	"net/http"
	"strings"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/platform/catalogue"
	"github.com/thiqa/thiqa/platform/requests"
	"github.com/thiqa/thiqa/platform/seal"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/store"
)

// OpenRequests sets n.Requests, the service requests of the catalogue's
// services (platform/requests), with results sealed by each agency's
// e-seal from the organisation CA. pay raises and checks the invoices of
// fees; nil leaves fee-bearing services unable to be requested (opening
// one fails) until the node has payments.
func (n *Node) OpenRequests(pay requests.Payments) error {
	st, ok := n.Store.(interface {
		catalogue.Store
		seal.CertStore
		requests.Store
	})
	if !ok {
		return errors.New("open service requests: the store keeps no catalogue, seals or requests")
	}
	root, err := n.CA.AuthorityCertificate(ca.Root)
	if err != nil {
		return err
	}
	verifier := &validate.Validator{Options: validate.Options{TrustAnchors: []*x509.Certificate{root}, Clock: n.clock}}
	seals := &requests.AgencySeals{Keys: n.Keys, Authority: n.CA, Certs: st, Store: st, Options: seal.ProvisionOptions{Clock: n.clock}}
	d := requests.Deps{Store: st, Catalogue: requests.FromCatalogue(catalogue.New(st, catalogue.Options{Clock: n.clock}), st),
		Signing: n.Signing, Identities: n.Enrollment, Validator: verifier, Sealer: seals, Audit: n.Audit}
	if pay != nil {
		d.Payments = pay
	}
	n.Requests, err = requests.New(d, requests.Options{Clock: n.clock})
	return err
}

// agencyOf authenticates an agency for its pages as the API does: its
// API key as the bearer token, or its registered e-seal certificate by
// mutual TLS.
func (n *Node) agencyOf(r *http.Request) (store.Agency, bool) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		a, err := n.Signing.AuthenticateAgency(r.Context(), strings.TrimSpace(tok))
		return a, err == nil
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
		a, err := n.Signing.AuthenticateAgencyCert(r.Context(), r.TLS.PeerCertificates[0].Raw)
		return a, err == nil
	}
	return store.Agency{}, false
}
