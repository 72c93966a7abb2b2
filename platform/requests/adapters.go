package requests

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/platform/catalogue"
	"github.com/thiqa/thiqa/platform/payments"
	"github.com/thiqa/thiqa/platform/seal"
	"github.com/thiqa/thiqa/store"
)

// agencyByName finds the signing service's agency registered under name.
func agencyByName(ctx context.Context, st Store, name string) (store.Agency, error) {
	var a store.Agency
	err := st.SigningView(ctx, func(tx store.SigningTx) (err error) {
		a, err = tx.AgencyByName(name)
		return err
	})
	return a, err
}

func agencyByID(ctx context.Context, st Store, id string) (store.Agency, error) {
	var a store.Agency
	err := st.SigningView(ctx, func(tx store.SigningTx) (err error) {
		a, err = tx.Agency(id)
		return err
	})
	return a, err
}

// CatalogueLookup is what [FromCatalogue] needs (*catalogue.Catalogue).
type CatalogueLookup interface {
	Service(ctx context.Context, code string) (catalogue.Service, error)
}

var _ CatalogueLookup = (*catalogue.Catalogue)(nil)

// FromCatalogue adapts platform/catalogue: a service's agency code names
// the agency that decides its requests, which is the agency registered
// with the signing service under that name (`thiqa admin agency add
// --name MOI`).
func FromCatalogue(c CatalogueLookup, st Store) Catalogue { return catalogueAdapter{c, st} }

type catalogueAdapter struct {
	c  CatalogueLookup
	st Store
}

func (a catalogueAdapter) Lookup(ctx context.Context, code string) (ServiceInfo, error) {
	svc, err := a.c.Service(ctx, code)
	if errors.Is(err, catalogue.ErrNotFound) {
		return ServiceInfo{}, fmt.Errorf("%w: service %q", ErrNotFound, code)
	}
	if err != nil {
		return ServiceInfo{}, err
	}
	info := ServiceInfo{Code: svc.Code, NameAr: svc.NameAr, NameEn: svc.NameEn, FeeFils: svc.FeeFils,
		SignatureRequired: svc.SignatureRequired, Sealed: svc.Sealed, RequiredDocuments: svc.Documents, AgencyName: svc.Agency,
		AtCentre: svc.Channel == store.ChannelCentre}
	ag, err := agencyByName(ctx, a.st, svc.Agency)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// No agency to decide: AgencyID stays empty and Open refuses.
	case err != nil:
		return ServiceInfo{}, err
	default:
		info.AgencyID = ag.ID
	}
	return info, nil
}

// FromPayments adapts platform/payments.
func FromPayments(p *payments.Service) Payments { return paymentsAdapter{p} }

type paymentsAdapter struct{ p *payments.Service }

func (a paymentsAdapter) Invoice(ctx context.Context, reference, nationalID string, amountFils int64, descAr, descEn string) (string, error) {
	inv, err := a.p.CreateInvoice(ctx, payments.InvoiceRequest{Reference: reference, Payer: nationalID,
		DescriptionAr: descAr, DescriptionEn: descEn, AmountFils: amountFils})
	return inv.ID, err
}

func (a paymentsAdapter) Paid(ctx context.Context, invoiceID string) (bool, error) {
	return a.p.Paid(ctx, invoiceID)
}

// AgencySeals seals results with each agency's own e-seal, provisioned
// on first use with platform/seal.Provision (a key in custody, a
// certificate from the organisation CA with the ca.ESeal profile whose
// organizationIdentifier is GOVJO-<agency name in A-Z and 0-9>), named
// agency-<hex of the agency ID> (custody key names are lower case), and
// kept for the life of the process.
type AgencySeals struct {
	Keys      hsm.Custody
	Authority *ca.Service
	Certs     seal.CertStore
	Store     Store
	Options   seal.ProvisionOptions

	mu    sync.Mutex
	seals map[string]*seal.Seal
}

var _ Sealer = (*AgencySeals)(nil)

// Seal seals pdf with the agency's e-seal at PAdES B-LT.
func (s *AgencySeals) Seal(ctx context.Context, agencyID string, pdf []byte) ([]byte, error) {
	sl, err := s.seal(ctx, agencyID)
	if err != nil {
		return nil, err
	}
	return sl.Seal(ctx, pdf, seal.Options{Reason: "Result of a service request", Location: "Jordan"})
}

func (s *AgencySeals) seal(ctx context.Context, agencyID string) (*seal.Seal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl := s.seals[agencyID]; sl != nil {
		return sl, nil
	}
	ag, err := agencyByID(ctx, s.Store, agencyID)
	if err != nil {
		return nil, fmt.Errorf("agency %s: %w", agencyID, err)
	}
	org := ag.Name
	if r := []rune(org); len(r) > 64 {
		org = string(r[:64])
	}
	orgID := strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return -1
	}, ag.Name)
	if orgID == "" || len(orgID) > 32 {
		orgID = strings.ToUpper(strings.Map(func(r rune) rune {
			if r == '-' || r == '_' {
				return -1
			}
			return r
		}, agencyID))
		orgID = orgID[:min(len(orgID), 32)]
	}
	sl, err := seal.Provision(ctx, s.Keys, s.Authority, s.Certs, seal.Identity{Name: "agency-" + hex.EncodeToString([]byte(agencyID)),
		Organization: org, OrgIdentifier: "GOVJO-" + orgID}, s.Options)
	if err != nil {
		return nil, err
	}
	if s.seals == nil {
		s.seals = map[string]*seal.Seal{}
	}
	s.seals[agencyID] = sl
	return sl, nil
}
