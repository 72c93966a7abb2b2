package requests

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// FormData is what the application form shows.
type FormData struct {
	RequestID              string
	ServiceCode            string
	ServiceNameEn          string
	ServiceNameAr          string
	AgencyName             string
	GivenName, Surname     string // Latin script, as enrolled
	GivenNameAr, SurnameAr string
	NationalID             string
	FeeFils                int64
	Created                time.Time
	RequiredDocuments      []string
}

// SignatureRect is where the form leaves room for the citizen's visible
// signature on page 1 (the signing service draws its bilingual stamp,
// with the Arabic name shaped, at this rectangle).
var SignatureRect = [4]float64{36, 36, 276, 126}

// Form writes the application form as a one-page PDF 1.7 (A4) with the
// standard Helvetica fonts. The page text is in Latin script: the
// standard fonts have no Arabic glyphs, and shaping Arabic needs an
// embedded font and a shaper this package does not have. The Arabic
// service and applicant names go in the document information
// (/Subject, UTF-16), and the citizen's visible signature stamp shows
// the Arabic name shaped. The output depends only on d, so the same data
// gives the same bytes.
func Form(d FormData) []byte {
	var c contentStream
	c.text(true, 15, 50, 790, "Hashemite Kingdom of Jordan")
	c.text(true, 13, 50, 770, "Application for a government service")
	c.text(false, 9, 50, 752, "Prepared by Thiqa, the national trust service. Request "+d.RequestID)
	c.line(50, 742, 545, 742)
	y := 715.0
	row := func(label, value string) {
		c.text(true, 11, 50, y, label)
		c.text(false, 11, 190, y, value)
		y -= 20
	}
	row("Service", d.ServiceCode+" - "+d.ServiceNameEn)
	row("Agency", d.AgencyName)
	row("Applicant", strings.TrimSpace(d.GivenName+" "+d.Surname))
	row("National number", d.NationalID)
	row("Date", d.Created.UTC().Format("2 January 2006, 15:04 MST"))
	row("Fee", fee(d.FeeFils))
	if len(d.RequiredDocuments) > 0 {
		row("Documents", strings.Join(d.RequiredDocuments, ", "))
	}
	y -= 10
	for _, l := range []string{
		"I, the applicant named above, apply for this service and declare that the information",
		"in this application is true and complete. I sign this application electronically with",
		"my Thiqa signing certificate; my signature applies to this document as prepared by Thiqa.",
	} {
		c.text(false, 10, 50, y, l)
		y -= 15
	}
	c.text(false, 8, 50, y-10, "Arabic names of the service and the applicant are in the document properties and the signature stamp.")
	c.text(true, 10, SignatureRect[0], SignatureRect[3]+10, "Applicant's signature")
	c.rect(SignatureRect)
	return assemble(c.Bytes(), "Application "+d.RequestID+": "+d.ServiceCode, d)
}

// Decision writes the result document an agency's acceptance gives when
// the agency uploads none: a one-page PDF saying that the request was
// accepted, with the agency's note, to be sealed with its e-seal.
func Decision(d FormData, note string, decided time.Time) []byte {
	var c contentStream
	c.text(true, 15, 50, 790, "Hashemite Kingdom of Jordan")
	c.text(true, 13, 50, 770, "Decision on a service request")
	c.text(false, 9, 50, 752, "Issued through Thiqa. Request "+d.RequestID)
	c.line(50, 742, 545, 742)
	y := 715.0
	for _, kv := range [][2]string{
		{"Service", d.ServiceCode + " - " + d.ServiceNameEn},
		{"Agency", d.AgencyName},
		{"Applicant", d.NationalID},
		{"Decision", "Accepted"},
		{"Date", decided.UTC().Format("2 January 2006, 15:04 MST")},
	} {
		c.text(true, 11, 50, y, kv[0])
		c.text(false, 11, 190, y, kv[1])
		y -= 20
	}
	for rest := []rune(note); len(rest) > 0 && y > 150; y -= 15 {
		n := min(len(rest), 90)
		c.text(false, 10, 50, y, string(rest[:n]))
		rest = rest[n:]
	}
	c.text(false, 8, 50, 120, "This document is sealed with the agency's electronic seal; verify it at the Thiqa verification page.")
	return assemble(c.Bytes(), "Decision "+d.RequestID+": "+d.ServiceCode, d)
}

func fee(fils int64) string {
	if fils <= 0 {
		return "none"
	}
	return fmt.Sprintf("%d.%03d JOD", fils/1000, fils%1000)
}

// contentStream builds a page's content stream.
type contentStream struct{ bytes.Buffer }

func (c *contentStream) text(bold bool, size, x, y float64, s string) {
	font := "F1"
	if bold {
		font = "F2"
	}
	fmt.Fprintf(&c.Buffer, "BT /%s %g Tf %g %g Td %s Tj ET\n", font, size, x, y, winAnsi(s))
}

func (c *contentStream) line(x1, y1, x2, y2 float64) {
	fmt.Fprintf(&c.Buffer, "0.5 w %g %g m %g %g l S\n", x1, y1, x2, y2)
}

func (c *contentStream) rect(r [4]float64) {
	fmt.Fprintf(&c.Buffer, "0.5 w 0.6 G %g %g %g %g re S 0 G\n", r[0], r[1], r[2]-r[0], r[3]-r[1])
}

// winAnsi encodes s as a PDF hex string in WinAnsiEncoding: ASCII and
// Latin-1 letters as themselves, anything the standard fonts cannot show
// as "?". A hex string holds only hex digits, so no text can end it (or
// the content stream) early.
func winAnsi(s string) string {
	var b strings.Builder
	b.WriteByte('<')
	for _, r := range s {
		if (r < 0x20 || r >= 0x7f) && (r < 0xa0 || r > 0xff) {
			r = '?'
		}
		fmt.Fprintf(&b, "%02X", r)
	}
	b.WriteByte('>')
	return b.String()
}

// utf16Text encodes s as a PDF text string in UTF-16BE with its BOM.
func utf16Text(s string) string {
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteByte('>')
	return b.String()
}

// assemble writes the objects, the cross-reference table and the trailer.
func assemble(content []byte, title string, d FormData) []byte {
	subject := strings.TrimSpace("طلب خدمة: " + d.ServiceNameAr + " - مقدم الطلب: " + strings.TrimSpace(d.GivenNameAr+" "+d.SurnameAr))
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R /Lang (en) >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> /Contents 4 0 R >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
		fmt.Sprintf("<< /Title %s /Subject %s /Author %s /Producer (Thiqa) /CreationDate (D:%s) >>",
			winAnsi(title), utf16Text(subject),
			utf16Text(strings.TrimSpace(d.GivenName+" "+d.Surname)), d.Created.UTC().Format("20060102150405Z")),
	}
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
