package payments

import (
	"context"
	"fmt"

	"github.com/thiqa/thiqa/platform/internal/onepage"
	"github.com/thiqa/thiqa/platform/seal"
	"github.com/thiqa/thiqa/store"
)

// ReceiptStampRect is where a receipt's seal stamp goes on page 1.
var ReceiptStampRect = [4]float64{300, 60, 560, 160}

// Receipt returns the receipt of paid (or refunded) invoice id as a PDF
// sealed with the platform's e-seal at PAdES B-LT; payer must be the
// invoice's payer, or empty for an administrator.
//
// The page body is set in the standard Helvetica fonts, which have no
// Arabic glyphs, so it is in English. The Arabic is in the seal's visible
// stamp (the platform's Arabic name and "إيصال دفع", shaped right to left by
// package signer with an embedded DejaVu subset, extractable as text) and
// in the document information (/Subject with the Arabic description).
func (s *Service) Receipt(ctx context.Context, id, payer string) ([]byte, error) {
	fail := func(err error) ([]byte, error) { return nil, fmt.Errorf("receipt: %w", err) }
	if s.opts.Sealer == nil {
		return fail(fmt.Errorf("%w: no e-seal configured for receipts", ErrState))
	}
	inv, err := s.Invoice(ctx, id)
	if err != nil {
		return fail(err)
	}
	if payer != "" && inv.Payer != payer {
		return fail(ErrForbidden)
	}
	if inv.State == store.InvoiceOpen {
		return fail(fmt.Errorf("%w: the invoice is not paid", ErrState))
	}
	sealed, err := s.opts.Sealer.Seal(ctx, ReceiptPDF(inv), seal.Options{
		Reason: "Payment receipt " + inv.ID, Location: "Amman, Jordan",
		Stamp: &seal.Stamp{Page: 1, Rect: ReceiptStampRect, Reason: "إيصال دفع · Payment receipt", VerifyBaseURL: s.opts.VerifyBaseURL},
	})
	if err != nil {
		return fail(err)
	}
	return sealed, nil
}

// Fils formats an amount of fils as dinars with three decimals.
func Fils(fils int64) string {
	sign := ""
	if fils < 0 {
		sign, fils = "-", -fils
	}
	return fmt.Sprintf("%s%d.%03d", sign, fils/1000, fils%1000)
}

// ReceiptPDF writes the unsealed receipt of inv: one A4 page, PDF 1.7. The
// same invoice gives the same bytes.
func ReceiptPDF(inv Invoice) []byte {
	var c onepage.Page
	c.Text(true, 15, 50, 790, "Hashemite Kingdom of Jordan - Thiqa")
	c.Text(true, 13, 50, 770, "Payment receipt")
	c.Text(false, 9, 50, 752, "Issued by Thiqa, the national trust service, for a government service fee.")
	c.Line(50, 742, 545, 742)
	y := 715.0
	row := func(label, value string) {
		c.Text(true, 11, 50, y, label)
		c.Text(false, 11, 200, y, value)
		y -= 20
	}
	row("Receipt number", inv.ID)
	row("For", inv.Reference)
	if inv.DescriptionEn != "" {
		row("Description", inv.DescriptionEn)
	}
	row("Payer (national number)", inv.Payer)
	row("Amount", Fils(inv.AmountFils)+" "+inv.Currency)
	row("Paid", inv.Paid.UTC().Format("2 January 2006, 15:04 MST"))
	row("Gateway transaction", inv.Gateway+" "+inv.GatewayTxn)
	for _, r := range inv.Refunds {
		row("Refunded", Fils(r.AmountFils)+" "+inv.Currency+" on "+r.At.UTC().Format("2 January 2006")+" ("+r.ID+")")
	}
	c.Text(false, 8, 50, 40, "This receipt is sealed with the Thiqa platform's electronic seal; verify it at the Thiqa verification page.")
	subject := "إيصال دفع " + inv.ID
	if inv.DescriptionAr != "" {
		subject += ": " + inv.DescriptionAr
	}
	return c.PDF(onepage.Info{Title: "Payment receipt " + inv.ID, Subject: subject, Created: inv.Paid})
}
