package validate

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// formPDF returns a one-page PDF with two filled text fields, "name"
// (object 7) and "amount" (object 8), and an empty signature field "Sig1"
// (object 9) whose /Lock is lock (PDF syntax; none when empty), and a
// second empty signature field "Sig2" (object 10).
func formPDF(t testing.TB, lock string) []byte {
	t.Helper()
	content := "BT /F1 12 Tf 72 720 Td (Payment order) Tj ET"
	sigField := "<</FT /Sig /T (Sig1) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 4 0 R /F 132"
	if lock != "" {
		sigField += " /Lock 11 0 R"
	}
	sigField += ">>"
	objs := []string{
		"<</Type /Catalog /Pages 2 0 R /AcroForm 6 0 R>>",
		"<</Type /Pages /Kids [4 0 R] /Count 1>>",
		"<</Type /Font /Subtype /Type1 /BaseFont /Helvetica>>",
		"<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R /Resources <</Font <</F1 3 0 R>>>> /Annots [7 0 R 8 0 R 9 0 R 10 0 R]>>",
		fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(content), content),
		"<</Fields [7 0 R 8 0 R 9 0 R 10 0 R] /DA (/F1 0 Tf 0 g) /DR <</Font <</F1 3 0 R>>>>>>",
		"<</FT /Tx /T (name) /V (Alice) /DA (/F1 12 Tf 0 g) /Type /Annot /Subtype /Widget /Rect [72 650 300 670] /P 4 0 R /F 4>>",
		"<</FT /Tx /T (amount) /V (100 JOD) /DA (/F1 12 Tf 0 g) /Type /Annot /Subtype /Widget /Rect [72 620 300 640] /P 4 0 R /F 4>>",
		sigField,
		"<</FT /Sig /T (Sig2) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 4 0 R /F 132>>",
	}
	if lock != "" {
		objs = append(objs, lock)
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

// fill appends an update that sets the value of text field num.
func fill(t testing.TB, b []byte, num uint32, value string) []byte {
	t.Helper()
	return appendUpdate(t, b, map[uint32]string{num: object(t, b, pdf.Ref{Num: num}, func(d pdf.Dict) {
		d["V"] = pdf.String(value)
	})})
}

// TestFieldMDP signs the signature field of a form whose /Lock locks some
// fields, fills fields afterwards, and checks that filling a locked field
// fails the signature while filling an unlocked one is allowed (unless a
// certification forbids form filling).
func TestFieldMDP(t *testing.T) {
	p := testpki.New(t, nil)
	const (
		name   = 7
		amount = 8
	)
	signForm := func(lock string, certify int) []byte {
		o := signOpts(p, signer.LevelBLT)
		o.FieldName = "Sig1"
		o.Certify = certify
		return sign(t, formPDF(t, lock), p.SignerKey, o)
	}
	include := signForm("<</Type /SigFieldLock /Action /Include /Fields [(amount)]>>", 0)
	exclude := signForm("<</Type /SigFieldLock /Action /Exclude /Fields [(name)]>>", 0)
	all := signForm("<</Type /SigFieldLock /Action /All>>", 0)
	unlocked := signForm("", 0)
	certified1 := signForm("", 1)
	certified2 := signForm("", 2)
	for _, tc := range []struct {
		name    string
		doc     []byte
		ind     Indication
		sub     SubIndication
		allowed bool // the form-field-changed modification
	}{
		{"include, locked field filled", fill(t, include, amount, "900 JOD"), TotalFailed, HashFailure, false},
		{"include, unlocked field filled", fill(t, include, name, "Bob"), TotalPassed, "", true},
		{"exclude, locked field filled", fill(t, exclude, amount, "900 JOD"), TotalFailed, HashFailure, false},
		{"exclude, excluded field filled", fill(t, exclude, name, "Bob"), TotalPassed, "", true},
		{"all, field filled", fill(t, all, name, "Bob"), TotalFailed, HashFailure, false},
		{"no lock, field filled", fill(t, unlocked, amount, "900 JOD"), TotalPassed, "", true},
		{"certified P=2, field filled", fill(t, certified2, amount, "900 JOD"), TotalPassed, "", true},
		{"certified P=1, field filled", fill(t, certified1, name, "Bob"), TotalFailed, HashFailure, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := validate(t, tc.doc, trusting(p))
			if len(rep.Signatures) != 1 {
				t.Fatalf("%d signatures: %s %s", len(rep.Signatures), rep.SubIndication, rep.Problem)
			}
			s := rep.Signatures[0]
			if s.Indication != tc.ind || s.SubIndication != tc.sub {
				t.Errorf("%s/%s, want %s/%s: %v", s.Indication, s.SubIndication, tc.ind, tc.sub, s.Findings)
			}
			found := false
			for _, m := range s.Modifications {
				if m.Kind == ModFieldChanged {
					found = true
					if m.Allowed != tc.allowed {
						t.Errorf("%+v: allowed %v, want %v", m, m.Allowed, tc.allowed)
					}
				} else if !m.Allowed {
					t.Errorf("unexpected disallowed change %+v", m)
				}
			}
			if !found {
				t.Errorf("no %s modification in %+v", ModFieldChanged, s.Modifications)
			}
			t.Logf("%s", s.Explanation.EN)
		})
	}
}

// TestFieldMDPLockedSignatureField checks that signing a signature field
// that an earlier signature locks fails the earlier signature, while
// signing an unlocked one is allowed.
func TestFieldMDPLockedSignatureField(t *testing.T) {
	p := testpki.New(t, nil)
	cert, key := p.IssueSigner(t, testpki.ECDSAP256, "Second Signer")
	for _, tc := range []struct {
		name   string
		lock   string
		ind    Indication
		sub    SubIndication
		allows bool
	}{
		{"Sig2 locked", "<</Type /SigFieldLock /Action /Include /Fields [(Sig2)]>>", TotalFailed, HashFailure, false},
		{"Sig2 not locked", "<</Type /SigFieldLock /Action /Include /Fields [(amount)]>>", TotalPassed, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := signOpts(p, signer.LevelBLT)
			o.FieldName = "Sig1"
			first := sign(t, formPDF(t, tc.lock), p.SignerKey, o)
			o2 := signOpts(p, signer.LevelBLT)
			o2.FieldName, o2.Certificate = "Sig2", cert
			both := sign(t, first, key, o2)
			rep := validate(t, both, trusting(p))
			if len(rep.Signatures) != 2 {
				t.Fatalf("%d signatures", len(rep.Signatures))
			}
			s := rep.Signatures[0]
			if s.Indication != tc.ind || s.SubIndication != tc.sub {
				t.Errorf("first signature %s/%s, want %s/%s: %v", s.Indication, s.SubIndication, tc.ind, tc.sub, s.Findings)
			}
			found := false
			for _, m := range s.Modifications {
				if m.Kind == ModSigFieldFilled && m.Field == "Sig2" {
					found = true
					if m.Allowed != tc.allows {
						t.Errorf("%+v: allowed %v, want %v", m, m.Allowed, tc.allows)
					}
				}
			}
			if !found {
				t.Errorf("no %s modification for Sig2: %+v", ModSigFieldFilled, s.Modifications)
			}
			if s2 := rep.Signatures[1]; s2.Indication != TotalPassed {
				t.Errorf("second signature %s/%s: %v", s2.Indication, s2.SubIndication, s2.Findings)
			}
		})
	}
}
