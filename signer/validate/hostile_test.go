package validate

import (
	"bytes"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// TestHostile feeds broken and hostile documents: each gives a report
// whose verdict is FORMAT_FAILURE or INDETERMINATE with a reason.
func TestHostile(t *testing.T) {
	p := testpki.New(t, nil)
	bt := sign(t, makePDF(t, 1), p.SignerKey, signOpts(p, signer.LevelBT))
	lt := sign(t, makePDF(t, 1), p.SignerKey, signOpts(p, signer.LevelBLT))
	rd, err := pdf.Open(bytes.NewReader(lt), int64(len(lt)), nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := rd.Catalog()
	dssRef, _ := cat["DSS"].(pdf.Ref)
	af, _, _ := rd.AcroForm()
	fieldsRef, hasFieldsRef := af["Fields"].(pdf.Ref)
	sigRef := sigDictRef(t, bt)
	n := rd.MaxObjectNumber()

	nested := strings.Repeat("\x30\x80", 200) + strings.Repeat("\x00\x00", 200)
	cases := []struct {
		name string
		doc  []byte
		ind  Indication
		sub  SubIndication
	}{
		{"not a PDF", []byte("hello, world"), TotalFailed, FormatFailure},
		{"empty", nil, TotalFailed, FormatFailure},
		{"truncated", bt[:len(bt)/2], "", ""},
		{"absurd byte range", editByteRange(t, bt, func(br []int64) { br[3] = 99999 }), TotalFailed, FormatFailure},
		{"broken CMS", withContents(t, bt, []byte("\x30\x82\xff\xffgarbage")), TotalFailed, FormatFailure},
		{"deeply nested BER", withContents(t, bt, []byte(nested)), TotalFailed, FormatFailure},
		{"byte range of six numbers", appendUpdate(t, bt, map[uint32]string{sigRef.Num: object(t, bt, sigRef, func(d pdf.Dict) {
			d["ByteRange"] = pdf.Array{pdf.Int(0), pdf.Int(1), pdf.Int(2), pdf.Int(3), pdf.Int(4), pdf.Int(5)}
		})}), "", ""},
		{"truncated DSS", appendUpdate(t, lt, map[uint32]string{dssRef.Num: "<</Type /DSS /Certs [" + itoa(n) + " 0 R] /OCSPs 7 /CRLs [1 0 R]>>",
			n: "<</Length 5000 /Filter /FlateDecode>>\nstream\nxx\nendstream"}), "", ""},
		{"garbage trailer after the signed revision", append(append([]byte(nil), bt[:len(bt)-6]...), []byte("\ntrailer <</Encrypt 1 0 R /Root 1 0 R>>\n%%EOF\n")...), "", ""},
	}
	if hasFieldsRef {
		cases = append(cases, struct {
			name string
			doc  []byte
			ind  Indication
			sub  SubIndication
		}{"field tree loop", appendUpdate(t, bt, map[uint32]string{fieldsRef.Num: "[" + itoa(n) + " 0 R]",
			n: "<</T (loop) /Kids [" + itoa(n) + " 0 R " + itoa(n) + " 0 R]>>"}), "", ""})
	} else {
		cases = append(cases, struct {
			name string
			doc  []byte
			ind  Indication
			sub  SubIndication
		}{"field tree loop", appendUpdate(t, bt, map[uint32]string{n: "<</T (loop) /Kids [" + itoa(n) + " 0 R]>>"}), "", ""})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := validate(t, tc.doc, trusting(p))
			if rep.Indication == TotalPassed && tc.name != "truncated DSS" {
				t.Errorf("passed")
			}
			if tc.ind != "" && (rep.Indication != tc.ind || rep.SubIndication != tc.sub) {
				t.Errorf("%s/%s, want %s/%s (%s)", rep.Indication, rep.SubIndication, tc.ind, tc.sub, rep.Explanation.EN)
			}
			for _, s := range rep.Signatures {
				if s.Indication != TotalPassed && s.Explanation.EN == "" {
					t.Errorf("%s without a reason", s.ID)
				}
			}
			t.Logf("%s/%s: %s", rep.Indication, rep.SubIndication, rep.Explanation.EN)
			for _, s := range rep.Signatures {
				t.Logf("  %s %s/%s: %s", s.ID, s.Indication, s.SubIndication, s.Explanation.EN)
			}
		})
	}
}

func itoa(n uint32) string { return string(pdf.AppendObject(nil, pdf.Int(n))) }
