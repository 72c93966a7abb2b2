package payments

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"unicode/utf16"

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
	var c bytes.Buffer
	text := func(bold bool, size, x, y float64, s string) {
		font := "F1"
		if bold {
			font = "F2"
		}
		fmt.Fprintf(&c, "BT /%s %g Tf %g %g Td %s Tj ET\n", font, size, x, y, latin(s))
	}
	text(true, 15, 50, 790, "Hashemite Kingdom of Jordan - Thiqa")
	text(true, 13, 50, 770, "Payment receipt")
	text(false, 9, 50, 752, "Issued by Thiqa, the national trust service, for a government service fee.")
	fmt.Fprintf(&c, "0.5 w 50 742 m 545 742 l S\n")
	y := 715.0
	row := func(label, value string) {
		text(true, 11, 50, y, label)
		text(false, 11, 200, y, value)
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
	text(false, 8, 50, 40, "This receipt is sealed with the Thiqa platform's electronic seal; verify it at the Thiqa verification page.")
	subject := "إيصال دفع " + inv.ID
	if inv.DescriptionAr != "" {
		subject += ": " + inv.DescriptionAr
	}
	content := c.Bytes()
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R /Lang (en) >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> /Contents 4 0 R >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
		fmt.Sprintf("<< /Title %s /Subject %s /Producer (Thiqa) /CreationDate (D:%s) >>",
			latin("Payment receipt "+inv.ID), utf16BE(subject), inv.Paid.UTC().Format("20060102150405Z")),
	}
	return writePDF(objs)
}

// writePDF writes objects 1..n (the last one the document information),
// the cross-reference table and the trailer.
func writePDF(objs []string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	id := sha256.Sum256(b.Bytes())
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R /ID [<%x> <%x>] >>\nstartxref\n%d\n%%%%EOF\n",
		len(objs)+1, len(objs), id[:16], id[:16], xref)
	return b.Bytes()
}

// latin writes s as a PDF literal string for WinAnsiEncoding; characters
// outside Latin-1 become "?".
func latin(s string) string {
	var b strings.Builder
	b.WriteByte('(')
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r >= 0xa0 && r <= 0xff:
			fmt.Fprintf(&b, "\\%03o", r)
		default:
			b.WriteByte('?')
		}
	}
	b.WriteByte(')')
	return b.String()
}

// utf16BE writes s as a PDF text string in UTF-16BE with its byte order
// mark.
func utf16BE(s string) string {
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteByte('>')
	return b.String()
}
