package signer

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// lockedForm returns a one-page form with a text field "amount" and an
// empty signature field "Sig1" whose /Lock is lock (none when empty).
func lockedForm(t *testing.T, lock string) []byte {
	t.Helper()
	sig := "<</FT /Sig /T (Sig1) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 4 0 R /F 132"
	if lock != "" {
		sig += " /Lock 7 0 R"
	}
	objs := []string{
		"<</Type /Catalog /Pages 2 0 R /AcroForm <</Fields [5 0 R 6 0 R]>>>>",
		"<</Type /Pages /Kids [4 0 R] /Count 1>>",
		"<</Length 0>>\nstream\n\nendstream",
		"<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R /Annots [5 0 R 6 0 R]>>",
		"<</FT /Tx /T (amount) /V (100) /Type /Annot /Subtype /Widget /Rect [72 620 300 640] /P 4 0 R /F 4>>",
		sig + ">>",
	}
	if lock != "" {
		objs = append(objs, lock)
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
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
	fmt.Fprintf(&b, "trailer\n<</Size %d /Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, start)
	return b.Bytes()
}

// TestFieldMDPReference checks that signing a signature field that has a
// /Lock puts the matching FieldMDP transform in the signature's
// /Reference (next to DocMDP when certifying), and none without a lock.
func TestFieldMDPReference(t *testing.T) {
	p := testpki.New(t, nil)
	for _, tc := range []struct {
		name    string
		lock    string
		certify int
		want    []string // TransformMethods in order
		action  pdf.Name
		fields  int
	}{
		{"include", "<</Type /SigFieldLock /Action /Include /Fields [(amount)]>>", 0, []string{"FieldMDP"}, "Include", 1},
		{"all, certified", "<</Type /SigFieldLock /Action /All>>", 2, []string{"DocMDP", "FieldMDP"}, "All", -1},
		{"exclude nothing", "<</Type /SigFieldLock /Action /Exclude /Fields []>>", 0, []string{"FieldMDP"}, "Exclude", 0},
		{"unknown action", "<</Type /SigFieldLock /Action /Some>>", 0, nil, "", 0},
		{"no lock", "", 0, nil, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := options(p, LevelBB)
			o.FieldName = "Sig1"
			o.Certify = tc.certify
			out := signBytes(t, lockedForm(t, tc.lock), p.SignerKey, o)
			rd, err := pdf.Open(bytes.NewReader(out), int64(len(out)), nil)
			if err != nil {
				t.Fatal(err)
			}
			af, _, _ := rd.AcroForm()
			fs, _ := rd.GetArray(af["Fields"])
			var sig pdf.Dict
			for _, f := range fs {
				fd, _ := rd.GetDict(f)
				if s, _ := fd["T"].(pdf.String); string(s) == "Sig1" {
					sig, _ = rd.GetDict(fd["V"])
				}
			}
			if sig == nil {
				t.Fatal("Sig1 not signed")
			}
			refs, _ := rd.GetArray(sig["Reference"])
			if len(refs) != len(tc.want) {
				t.Fatalf("/Reference %v, want %v", refs, tc.want)
			}
			for i, r := range refs {
				rd2, _ := rd.GetDict(r)
				if got := rd2["TransformMethod"]; got != pdf.Name(tc.want[i]) {
					t.Errorf("reference %d: %v, want %s", i, got, tc.want[i])
				}
				if tc.want[i] != "FieldMDP" {
					continue
				}
				params, _ := rd.GetDict(rd2["TransformParams"])
				if params["Action"] != tc.action {
					t.Errorf("action %v, want %s", params["Action"], tc.action)
				}
				fields, hasFields := params["Fields"].(pdf.Array)
				if tc.fields < 0 && hasFields || tc.fields >= 0 && len(fields) != tc.fields {
					t.Errorf("fields %v, want %d", params["Fields"], tc.fields)
				}
			}
			path := writeTemp(t, out)
			qpdfCheck(t, path)
			pdfsig(t, path, 1, true)
		})
	}
}
