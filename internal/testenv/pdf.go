package testenv

import (
	"bytes"
	"fmt"
	"strings"
)

// ContentObject is the object number of the page's content stream in a
// [OnePagePDF], for tests that replace it in an incremental update.
const ContentObject = 5

// OnePagePDF returns a valid one-page A4 PDF 1.7 showing text in
// Helvetica, its content stream padded with comment lines to make the
// file about size bytes (size 0: no padding). Its objects are the
// catalog (1), the page tree (2), the font (3), the page (4) and the
// content stream (ContentObject); the trailer has a fixed /ID.
func OnePagePDF(text string, size int) []byte {
	var content bytes.Buffer
	esc := strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(text)
	fmt.Fprintf(&content, "BT /F1 12 Tf 72 720 Td (%s) Tj ET\n", esc)
	for content.Len() < size {
		content.WriteString("% padding padding padding padding padding padding padding padding padding\n")
	}
	objs := []string{
		"<</Type /Catalog /Pages 2 0 R>>",
		"<</Type /Pages /Kids [4 0 R] /Count 1>>",
		"<</Type /Font /Subtype /Type1 /BaseFont /Helvetica>>",
		"<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R /Resources <</Font <</F1 3 0 R>>>>>>",
		fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", content.Len(), content.Bytes()),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	start := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	id := "<0123456789ABCDEF0123456789ABCDEF>"
	fmt.Fprintf(&b, "trailer\n<</Size %d /Root 1 0 R /ID [%s %s]>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, id, id, start)
	return b.Bytes()
}
