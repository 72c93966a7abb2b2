// Package onepage writes the platform's simple documents (application
// forms, decisions, payment receipts) as one-page A4 PDF 1.7 files set in
// the standard Helvetica fonts, ready to be signed or sealed.
//
// The standard fonts have no Arabic glyphs, so page text is in Latin
// script (WinAnsiEncoding; anything else shows as "?"); Arabic goes in the
// document information as UTF-16 text strings. The output depends only on
// what is drawn and on [Info], so the same input gives the same bytes.
//
// It must not import the trust core or other platform packages.
package onepage

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// Page is the content stream of the page being drawn. The zero value is
// an empty page.
type Page struct{ b bytes.Buffer }

// Text draws s at (x, y) in Helvetica, or Helvetica-Bold if bold, of size
// points.
func (p *Page) Text(bold bool, size, x, y float64, s string) {
	font := "F1"
	if bold {
		font = "F2"
	}
	fmt.Fprintf(&p.b, "BT /%s %g Tf %g %g Td %s Tj ET\n", font, size, x, y, winAnsi(s))
}

// Line draws a thin line from (x1, y1) to (x2, y2).
func (p *Page) Line(x1, y1, x2, y2 float64) {
	fmt.Fprintf(&p.b, "0.5 w %g %g m %g %g l S\n", x1, y1, x2, y2)
}

// Rect draws a thin grey frame around r (llx, lly, urx, ury).
func (p *Page) Rect(r [4]float64) {
	fmt.Fprintf(&p.b, "0.5 w 0.6 G %g %g %g %g re S 0 G\n", r[0], r[1], r[2]-r[0], r[3]-r[1])
}

// Info is the document information. Title is shown in Latin script;
// Subject and Author may hold any script. An empty Author is left out.
type Info struct {
	Title, Subject, Author string
	Created                time.Time
}

// PDF writes the page with info as a complete PDF file: catalog, page
// tree, page, content stream, the two fonts and the document information,
// the cross-reference table and a trailer whose /ID is derived from the
// objects.
func (p *Page) PDF(info Info) []byte {
	author := ""
	if info.Author != "" {
		author = " /Author " + utf16Text(info.Author)
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R /Lang (en) >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> /Contents 4 0 R >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", p.b.Len(), p.b.Bytes()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
		fmt.Sprintf("<< /Title %s /Subject %s%s /Producer (Thiqa) /CreationDate (D:%s) >>",
			winAnsi(info.Title), utf16Text(info.Subject), author, info.Created.UTC().Format("20060102150405Z")),
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
