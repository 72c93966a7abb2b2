package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/platform/payments"
)

// PaymentsService collects fees (*payments.Service).
type PaymentsService interface {
	Invoice(ctx context.Context, id string) (payments.Invoice, error)
	Checkout(ctx context.Context, id, payer string) (string, error)
	HandleCallback(ctx context.Context, h http.Header, body []byte) (payments.Invoice, error)
	Refund(ctx context.Context, id string, amountFils int64, reason, by string) (payments.Invoice, error)
	Reconcile(ctx context.Context) (payments.Report, error)
	Receipt(ctx context.Context, id, payer string) ([]byte, error)
}

var _ PaymentsService = (*payments.Service)(nil)

func init() {
	routeSets = append(routeSets, (*Server).paymentsRoutes)
	errorMap = append(errorMap, []struct {
		err    error
		status int
		slug   string
	}{
		{payments.ErrNotFound, http.StatusNotFound, "invoice-not-found"},
		{payments.ErrInvalid, http.StatusBadRequest, "bad-request"},
		{payments.ErrForbidden, http.StatusForbidden, "forbidden"},
		{payments.ErrState, http.StatusConflict, "invoice-state"},
		{payments.ErrCallback, http.StatusUnauthorized, "callback-not-authentic"},
		{payments.ErrMismatch, http.StatusUnprocessableEntity, "callback-mismatch"},
		{payments.ErrGateway, http.StatusBadGateway, "gateway-error"},
	}...)
}

// checkoutReply answers POST /api/v1/invoices/{id}/checkout.
type checkoutReply struct {
	URL string `json:"url"`
}

// refundBody is the body of POST /api/v1/invoices/{id}/refunds.
type refundBody struct {
	AmountFils int64  `json:"amount_fils"`
	Reason     string `json:"reason"`
}

// payer is the national ID a citizen acts as; "" for an administrator,
// who may see every invoice.
func payer(r *http.Request) string {
	if p := who(r); p.Kind == enrollment.KindCitizen {
		return p.NationalID
	}
	return ""
}

// paymentsRoutes serve invoices to their payer (and administrators),
// checkout, sealed receipts, refunds and reconciliation for
// administrators, and the gateway's callback, which is authenticated by
// its HMAC signature rather than by a session (routeAccess: everyone).
func (s *Server) paymentsRoutes(mux *http.ServeMux) {
	handle := func(pattern string, h func(w http.ResponseWriter, r *http.Request)) {
		mux.HandleFunc(pattern, s.authorize(pattern, func(w http.ResponseWriter, r *http.Request) {
			if s.Payments == nil {
				s.writeError(w, r, ErrUnavailable)
				return
			}
			h(w, r)
		}))
	}
	handle("GET /api/v1/invoices/{id}", func(w http.ResponseWriter, r *http.Request) {
		inv, err := s.Payments.Invoice(r.Context(), r.PathValue("id"))
		if err == nil && payer(r) != "" && inv.Payer != payer(r) {
			// Another citizen's invoice does not exist for this one.
			err = fmt.Errorf("%w: %s", payments.ErrNotFound, r.PathValue("id"))
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, inv)
	})
	handle("POST /api/v1/invoices/{id}/checkout", func(w http.ResponseWriter, r *http.Request) {
		url, err := s.Payments.Checkout(r.Context(), r.PathValue("id"), payer(r))
		if errors.Is(err, payments.ErrForbidden) {
			err = fmt.Errorf("%w: %s", payments.ErrNotFound, r.PathValue("id"))
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, checkoutReply{URL: url})
	})
	handle("GET /api/v1/invoices/{id}/receipt", func(w http.ResponseWriter, r *http.Request) {
		pdf, err := s.Payments.Receipt(r.Context(), r.PathValue("id"), payer(r))
		if errors.Is(err, payments.ErrForbidden) {
			err = fmt.Errorf("%w: %s", payments.ErrNotFound, r.PathValue("id"))
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `attachment; filename="receipt-`+r.PathValue("id")+`.pdf"`)
		w.Write(pdf)
	})
	handle("POST /api/v1/invoices/{id}/refunds", func(w http.ResponseWriter, r *http.Request) {
		var b refundBody
		if err := decodeJSON(r, &b); err != nil {
			s.writeError(w, r, err)
			return
		}
		inv, err := s.Payments.Refund(r.Context(), r.PathValue("id"), b.AmountFils, b.Reason, "officer:"+who(r).Username)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, inv)
	})
	handle("GET /api/v1/payments/reconciliation", func(w http.ResponseWriter, r *http.Request) {
		rep, err := s.Payments.Reconcile(r.Context())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
	handle("POST /api/v1/payments/callback", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			s.writeError(w, r, fmt.Errorf("%w: %w", ErrBadRequest, err))
			return
		}
		inv, err := s.Payments.HandleCallback(r.Context(), r.Header, body)
		if err != nil {
			s.refuse(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"invoice_id": inv.ID, "state": inv.State})
	})
}
