package validate

import (
	"bytes"
	"strings"
	"testing"
	"time"

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

// dag returns objects from first: depth levels of arrays, each holding
// width references to the next level, ending in an integer.
func dag(first uint32, depth, width int) map[uint32]string {
	objs := map[uint32]string{}
	for l := 0; l < depth; l++ {
		var b []byte
		b = append(b, '[')
		for i := 0; i < width; i++ {
			b = append(b, itoa(first+uint32(l)+1)...)
			b = append(b, " 0 R "...)
		}
		objs[first+uint32(l)] = string(append(b, ']'))
	}
	objs[first+uint32(depth)] = "42"
	return objs
}

// TestSharedObjectBomb compares two revisions whose pages share a deep
// graph of arrays (20^10 paths): the comparison is bounded.
func TestSharedObjectBomb(t *testing.T) {
	p := testpki.New(t, nil)
	page := func(first uint32) string {
		return "<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R /Resources <</Font <</F1 3 0 R>> /Bomb " + itoa(first) + " 0 R>>>>"
	}
	objs := dag(100, 10, 20)
	objs[4] = page(100)
	base := appendUpdate(t, makePDF(t, 1), objs)
	signed := sign(t, base, p.SignerKey, signOpts(p, signer.LevelBB))
	objs = dag(200, 10, 20)
	objs[4] = page(200)
	bomb := appendUpdate(t, signed, objs)
	done := make(chan *Report)
	go func() { done <- validate(t, bomb, trusting(p)) }()
	select {
	case rep := <-done:
		if rep.Signatures[0].Checks.Modifications != CheckFailed {
			t.Errorf("modifications %s, want failed: %+v", rep.Signatures[0].Checks.Modifications, rep.Modifications)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("validation did not finish in 20 s")
	}
}

// TestOrphanSignatureDictionary adds a signature dictionary that no field
// uses: it is not a signature and is not reported as one.
func TestOrphanSignatureDictionary(t *testing.T) {
	p := testpki.New(t, nil)
	signed := sign(t, makePDF(t, 1), p.SignerKey, signOpts(p, signer.LevelBLT))
	rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)), nil)
	if err != nil {
		t.Fatal(err)
	}
	sigRef := sigDictRef(t, signed)
	orphan := object(t, signed, sigRef, func(d pdf.Dict) { d["Reason"] = pdf.String("orphan") })
	doc := appendUpdate(t, signed, map[uint32]string{rd.MaxObjectNumber(): orphan})
	rep := validate(t, doc, trusting(p))
	if len(rep.Signatures) != 1 || rep.Signatures[0].Reason != "Approval" {
		t.Fatalf("%d signatures: %+v", len(rep.Signatures), rep.Signatures)
	}
	if rep.Indication != TotalPassed {
		t.Errorf("%s/%s: an unused object is not a change to the document", rep.Indication, rep.SubIndication)
	}
}
