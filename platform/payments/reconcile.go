package payments

import (
	"context"
	"fmt"
	"sort"

	"github.com/thiqa/thiqa/store"
)

// Line is one payment in a reconciliation report: what Thiqa recorded and
// what the gateway did.
type Line struct {
	InvoiceID       string `json:"invoice_id,omitempty"`
	TxnID           string `json:"transaction_id"`
	ThiqaState      string `json:"thiqa_state,omitempty"`
	ThiqaAmount     int64  `json:"thiqa_amount_fils"`
	ThiqaRefunded   int64  `json:"thiqa_refunded_fils"`
	GatewayState    string `json:"gateway_state,omitempty"`
	GatewayAmount   int64  `json:"gateway_amount_fils"`
	GatewayRefunded int64  `json:"gateway_refunded_fils"`
	// Problem says what differs; empty for a matched line.
	Problem string `json:"problem,omitempty"`
}

// Report compares Thiqa's paid invoices with the gateway's successful
// transactions.
type Report struct {
	Matched []Line `json:"matched"`
	// MissingInThiqa: the gateway took money that no invoice records
	// (a refused double payment, a lost callback).
	MissingInThiqa []Line `json:"missing_in_thiqa"`
	// MissingAtGateway: an invoice marked paid by a transaction the
	// gateway does not know.
	MissingAtGateway []Line `json:"missing_at_gateway"`
	// Mismatched: both know the payment but amounts, refunds or the
	// invoice differ.
	Mismatched []Line `json:"mismatched"`
}

// Clean reports whether everything matched.
func (r Report) Clean() bool {
	return len(r.MissingInThiqa)+len(r.MissingAtGateway)+len(r.Mismatched) == 0
}

// Reconcile builds the report from every invoice and the gateway's
// transaction list.
func (s *Service) Reconcile(ctx context.Context) (Report, error) {
	txns, err := s.gw.Transactions(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("reconcile: %w: %w", ErrGateway, err)
	}
	byTxn := map[string]Transaction{}
	for _, t := range txns {
		if t.State == "succeeded" {
			byTxn[t.ID] = t
		}
	}
	r := Report{Matched: []Line{}, MissingInThiqa: []Line{}, MissingAtGateway: []Line{}, Mismatched: []Line{}}
	for p := (store.Page{Limit: 1000}); ; {
		invs, err := s.st.Invoices(ctx, p)
		if err != nil {
			return Report{}, fmt.Errorf("reconcile: %w", err)
		}
		for _, inv := range invs {
			if inv.GatewayTxn == "" || inv.Gateway != s.gw.Name() {
				continue
			}
			l := Line{InvoiceID: inv.ID, TxnID: inv.GatewayTxn, ThiqaState: inv.State, ThiqaAmount: inv.AmountFils, ThiqaRefunded: inv.RefundedFils}
			t, ok := byTxn[inv.GatewayTxn]
			delete(byTxn, inv.GatewayTxn)
			if !ok {
				l.Problem = "the gateway has no successful transaction " + inv.GatewayTxn
				r.MissingAtGateway = append(r.MissingAtGateway, l)
				continue
			}
			l.GatewayState, l.GatewayAmount, l.GatewayRefunded = t.State, t.AmountFils, t.RefundedFils
			switch {
			case t.InvoiceID != inv.ID:
				l.Problem = "the gateway's transaction is for invoice " + t.InvoiceID
			case t.AmountFils != inv.AmountFils || t.Currency != inv.Currency:
				l.Problem = fmt.Sprintf("amount: Thiqa %d %s, gateway %d %s", inv.AmountFils, inv.Currency, t.AmountFils, t.Currency)
			case t.RefundedFils != inv.RefundedFils:
				l.Problem = fmt.Sprintf("refunded: Thiqa %d, gateway %d", inv.RefundedFils, t.RefundedFils)
			}
			if l.Problem != "" {
				r.Mismatched = append(r.Mismatched, l)
			} else {
				r.Matched = append(r.Matched, l)
			}
		}
		if len(invs) < p.Limit {
			break
		}
		p.After = invs[len(invs)-1].ID
	}
	for _, t := range byTxn {
		r.MissingInThiqa = append(r.MissingInThiqa, Line{InvoiceID: t.InvoiceID, TxnID: t.ID, GatewayState: t.State,
			GatewayAmount: t.AmountFils, GatewayRefunded: t.RefundedFils, Problem: "no invoice records this payment"})
	}
	sort.Slice(r.MissingInThiqa, func(i, j int) bool { return r.MissingInThiqa[i].TxnID < r.MissingInThiqa[j].TxnID })
	return r, nil
}
