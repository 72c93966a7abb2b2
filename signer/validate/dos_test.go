package validate

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// appendUpdates appends n incremental updates, each redefining object num
// with body (classic xref sections, one buffer for speed).
func appendUpdates(t testing.TB, in []byte, n int, num uint32, body string) []byte {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(in), int64(len(in)), nil)
	if err != nil {
		t.Fatal(err)
	}
	size := max(rd.MaxObjectNumber(), num+1)
	prev := rd.StartXref()
	out := append(make([]byte, 0, len(in)+n*(len(body)+200)), in...)
	for i := 0; i < n; i++ {
		off := len(out)
		out = fmt.Appendf(out, "%d 0 obj\n%s\nendobj\n", num, body)
		start := len(out)
		out = fmt.Appendf(out, "xref\n%d 1\n%010d 00000 n \ntrailer\n", num, off)
		out = pdf.AppendObject(out, pdf.Dict{"Size": pdf.Int(size), "Root": rd.Root(), "Prev": pdf.Int(prev)})
		out = fmt.Appendf(out, "\nstartxref\n%d\n%%%%EOF\n", start)
		prev = int64(start)
	}
	return out
}

// TestManyRevisionsLargeContents is a denial-of-service case: a signature
// with a 7 MiB /Contents followed by 250 small revisions. Modification
// analysis walks the document once per revision; before the revisions
// shared their parsed objects, each walk parsed the 14 MiB hex string
// again (about 35 s of CPU, minutes under the race detector).
// The deadline must not be reached: every revision is analysed.
func TestManyRevisionsLargeContents(t *testing.T) {
	p := testpki.New(t, nil)
	o := signOpts(p, signer.LevelBT)
	o.TimestampReserve = 7 << 20
	signed := sign(t, makePDF(t, 1), p.SignerKey, o)
	doc := appendUpdates(t, signed, 250, 3, "<</Type /Font /Subtype /Type1 /BaseFont /Helvetica>>")
	opts := trusting(p)
	opts.Online = true
	opts.Limits.Timeout = 30 * time.Second
	start := time.Now()
	rep := validate(t, doc, opts)
	t.Logf("%d bytes, %d revisions: %v", len(doc), rep.Revisions, time.Since(start))
	if rep.Revisions != 252 {
		t.Errorf("%d revisions, want 252", rep.Revisions)
	}
	if len(rep.Signatures) != 1 {
		t.Fatalf("%d signatures: %s", len(rep.Signatures), rep.Problem)
	}
	s := rep.Signatures[0]
	if where := deadlineHit(rep); where != "" {
		t.Fatalf("validation hit its deadline: %s", where)
	}
	for _, m := range rep.Modifications {
		if m.Kind == ModUnreadable {
			t.Fatalf("modification analysis did not finish: %+v", m)
		}
	}
	// The redefined font is a change of the page's resources in each
	// later revision, never allowed.
	if s.Indication != Indeterminate || s.SubIndication != SigConstraintsFailure {
		t.Errorf("%s/%s, want INDETERMINATE/SIG_CONSTRAINTS_FAILURE: %v", s.Indication, s.SubIndication, s.Findings)
	}
}
