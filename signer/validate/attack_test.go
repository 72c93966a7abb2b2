package validate

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/signer/internal/pdf"
	"github.com/thiqa/thiqa/signer/validate/internal/cms"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// contentsSpan returns where the hex digits of the first signature's
// /Contents lie in b, and its decoded CMS.
func contentsSpan(t testing.TB, b []byte) (int, int, []byte) {
	t.Helper()
	m := byteRangeRE.FindSubmatch(b)
	var br [4]int
	fmt.Sscan(string(m[1]), &br[0], &br[1], &br[2], &br[3])
	raw, err := hex.DecodeString(string(b[br[1]+1 : br[2]-1]))
	if err != nil {
		t.Fatal(err)
	}
	return br[1] + 1, br[2] - 1, raw
}

// withContents replaces the first signature's CMS, keeping the width.
func withContents(t testing.TB, b, der []byte) []byte {
	t.Helper()
	start, end, _ := contentsSpan(t, b)
	h := []byte(hex.EncodeToString(der))
	if len(h) > end-start {
		t.Fatalf("CMS of %d bytes does not fit in %d hex digits", len(der), end-start)
	}
	out := append([]byte(nil), b...)
	copy(out[start:end], bytes.Repeat([]byte("0"), end-start))
	copy(out[start:], h)
	return out
}

// twoSignerInfos rebuilds the SignedData with its SignerInfo twice
// (unsigned attributes dropped to make room).
func twoSignerInfos(t testing.TB, der []byte) []byte {
	t.Helper()
	in := cryptobyte.String(der)
	var ci, inner, sd cryptobyte.String
	var oid cryptobyte.String
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1Element(&oid, cbasn1.OBJECT_IDENTIFIER) ||
		!ci.ReadASN1(&inner, cbasn1.Tag(0).Constructed().ContextSpecific()) || !inner.ReadASN1(&sd, cbasn1.SEQUENCE) {
		t.Fatal("parse CMS")
	}
	var parts [][]byte
	var infos cryptobyte.String
	for !sd.Empty() {
		var el cryptobyte.String
		var tag cbasn1.Tag
		if !sd.ReadAnyASN1Element(&el, &tag) {
			t.Fatal("parse SignedData")
		}
		if tag == cbasn1.SET && sd.Empty() {
			infos = el
			break
		}
		parts = append(parts, el)
	}
	var set, si cryptobyte.String
	if !infos.ReadASN1(&set, cbasn1.SET) || !set.ReadASN1(&si, cbasn1.SEQUENCE) {
		t.Fatal("parse SignerInfo")
	}
	// Drop [1] unsigned attributes.
	var fields [][]byte
	for !si.Empty() {
		var el cryptobyte.String
		var tag cbasn1.Tag
		si.ReadAnyASN1Element(&el, &tag)
		if tag != cbasn1.Tag(1).Constructed().ContextSpecific() {
			fields = append(fields, el)
		}
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(oid)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, p := range parts {
					b.AddBytes(p)
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					for i := 0; i < 2; i++ {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							for _, f := range fields {
								b.AddBytes(f)
							}
						})
					}
				})
			})
		})
	})
	return b.BytesOrPanic()
}

// flipSignatureValue flips a bit in the middle of the signature value.
func flipSignatureValue(t testing.TB, b []byte) []byte {
	t.Helper()
	start, _, der := contentsSpan(t, b)
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	sv := sd.Signers[0].Signature
	i := bytes.Index(der, sv)
	pos := start + 2*(i+len(sv)/2)
	out := append([]byte(nil), b...)
	if out[pos] == '0' {
		out[pos] = '1'
	} else {
		out[pos] = '0'
	}
	return out
}

// annotOverText adds a Square annotation with an appearance over the
// page's text in a new revision.
func annotOverText(t testing.TB, b []byte) []byte {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := rd.Pages()
	if err != nil {
		t.Fatal(err)
	}
	n := rd.MaxObjectNumber()
	page := object(t, b, pages[0].Ref, func(d pdf.Dict) {
		annots, _ := rd.GetArray(d["Annots"])
		d["Annots"] = append(append(pdf.Array{}, annots...), pdf.Ref{Num: n})
	})
	ap := "q 1 1 1 rg 0 0 300 30 re f Q BT /F1 12 Tf 2 10 Td (pay 900 JOD) Tj ET"
	return appendUpdate(t, b, map[uint32]string{
		pages[0].Ref.Num: page,
		n:                "<</Type /Annot /Subtype /Square /Rect [70 712 370 742] /AP <</N " + fmt.Sprint(n+1) + " 0 R>>>>",
		n + 1:            fmt.Sprintf("<</Type /XObject /Subtype /Form /BBox [0 0 300 30] /Length %d>>\nstream\n%s\nendstream", len(ap), ap),
	})
}

// TestAttacks builds altered documents from Thiqa-signed ones and checks
// the verdict and kind of each.
func TestAttacks(t *testing.T) {
	p := testpki.New(t, nil)
	one := makePDF(t, 1)
	two := makePDF(t, 2)
	lt := sign(t, one, p.SignerKey, signOpts(p, signer.LevelBLT))
	lt2 := sign(t, two, p.SignerKey, signOpts(p, signer.LevelBLT))
	bt := sign(t, one, p.SignerKey, signOpts(p, signer.LevelBT))
	certOpts := signOpts(p, signer.LevelBLT)
	certOpts.Certify = 1
	certified := sign(t, one, p.SignerKey, certOpts)
	certOpts2 := signOpts(p, signer.LevelBLT)
	certOpts2.Certify = 2
	certified2 := sign(t, one, p.SignerKey, certOpts2)

	// A certificate revoked an hour before signing, its revocation in the DSS.
	pr := testpki.New(t, nil)
	pr.Revoke(pr.Signer, pr.Now.Add(-time.Hour))
	revoked := sign(t, one, pr.SignerKey, signOpts(pr, signer.LevelBLT))

	// A certificate that expired a year before the claimed signing time.
	expiredCert := issueCert(t, p, p.Now.AddDate(-3, 0, 0), p.Now.AddDate(-1, 0, 0))
	eo := signOpts(p, signer.LevelBB)
	eo.Certificate = expiredCert
	expired := sign(t, one, p.SignerKey, eo)

	// A certificate valid when signing, validated after it expired.
	shortCert := issueCert(t, p, p.Now.AddDate(0, 0, -1), p.Now.AddDate(0, 1, 0))
	so := signOpts(p, signer.LevelBB)
	so.Certificate = shortCert
	short := sign(t, one, p.SignerKey, so)
	after := trusting(p)
	after.Time = p.Now.AddDate(1, 0, 0)
	after.Online = true

	// Revoked an hour after signing, validated an hour later without a
	// time-stamp: nothing proves the signature came first.
	pl := testpki.New(t, nil)
	pl.Revoke(pl.Signer, pl.Now.Add(time.Hour))
	pl.Revoke(pl.CA, pl.Now.Add(time.Hour))
	late := sign(t, one, pl.SignerKey, signOpts(pl, signer.LevelBB))
	lateOpts := &Options{TrustAnchors: pl.Chain()[1:], Time: pl.Now.Add(2 * time.Hour), Online: true}
	plCA := testpki.New(t, nil)
	plCA.Revoke(plCA.CA, plCA.Now.Add(time.Hour))
	lateCA := sign(t, one, plCA.SignerKey, signOpts(plCA, signer.LevelBB))
	lateCAOpts := &Options{TrustAnchors: plCA.Chain()[1:], Time: plCA.Now.Add(2 * time.Hour), Online: true}

	revokedBB := sign(t, one, pr.SignerKey, signOpts(pr, signer.LevelBB))
	certOpts3 := signOpts(p, signer.LevelBLT)
	certOpts3.Certify = 3
	certified3 := sign(t, one, p.SignerKey, certOpts3)

	sigRef := sigDictRef(t, lt)
	_, _, btCMS := contentsSpan(t, bt)
	// A signed byte changed in place: the amount in the signed page.
	inPlace := bytes.Replace(bt, []byte("pay 100 JOD"), []byte("pay 900 JOD"), 1)
	// The CMS of another signed document put in this one.
	bt2 := sign(t, two, p.SignerKey, signOpts(p, signer.LevelBT))
	_, _, bt2CMS := contentsSpan(t, bt2)

	for _, tc := range []struct {
		name string
		doc  []byte
		opts *Options
		ind  Indication
		sub  SubIndication
		kind string // modification kind that must be reported
		more func(*Report) error
	}{
		{"content stream replaced", appendUpdate(t, lt, map[uint32]string{5: "<</Length 55>>\nstream\nBT /F1 12 Tf 72 720 Td (Thiqa test: pay 900 JOD) Tj ET\nendstream"}),
			nil, Indeterminate, SigConstraintsFailure, ModPageContent, nil},
		{"page added", appendUpdate(t, lt, map[uint32]string{
			2:   "<</Type /Pages /Kids [4 0 R 900 0 R] /Count 2>>",
			900: "<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R>>",
		}), nil, Indeterminate, SigConstraintsFailure, ModPageAdded, nil},
		{"page removed", appendUpdate(t, lt2, map[uint32]string{2: "<</Type /Pages /Kids [4 0 R] /Count 1>>"}),
			nil, Indeterminate, SigConstraintsFailure, ModPageRemoved, nil},
		{"annotation over signed text", annotOverText(t, lt), nil, Indeterminate, SigConstraintsFailure, ModAnnotAdded, func(r *Report) error {
			for _, m := range r.Modifications {
				if m.Kind == ModAnnotAdded && m.CoversContent && m.Page == 1 {
					return nil
				}
			}
			return fmt.Errorf("no annotation covering page 1 in %+v", r.Modifications)
		}},
		{"signature reason replaced", appendUpdate(t, lt, map[uint32]string{sigRef.Num: object(t, lt, sigRef, func(d pdf.Dict) {
			d["Reason"] = pdf.String("Rejected")
		})}), nil, TotalFailed, HashFailure, ModSignatureChanged, func(r *Report) error {
			if got := r.Signatures[0].Reason; got != "Approval" {
				return fmt.Errorf("reported reason %q, want the signed %q", got, "Approval")
			}
			return nil
		}},
		{"contents byte flipped", flipSignatureValue(t, bt), nil, TotalFailed, SigCryptoFailure, "", nil},
		{"byte range with a gap", editByteRange(t, bt, func(br []int64) { br[1] -= 20 }), nil, TotalFailed, FormatFailure, "", nil},
		{"byte range with an overlap", editByteRange(t, bt, func(br []int64) { br[2] = br[1] - 20; br[3] += br[1] - 20 - br[1] + 40 }), nil, TotalFailed, FormatFailure, "", nil},
		{"byte range past the end", editByteRange(t, bt, func(br []int64) { br[3] += 1000 }), nil, TotalFailed, FormatFailure, "", nil},
		{"second SignerInfo", withContents(t, bt, twoSignerInfos(t, btCMS)), nil, TotalFailed, FormatFailure, "", nil},
		{"revoked before signing", revoked, &Options{TrustAnchors: pr.Chain()[1:], Time: pr.Now.Add(time.Hour)}, TotalFailed, Revoked, "", nil},
		{"revoked after signing, no time-stamp", late, lateOpts, Indeterminate, RevokedNoPOE, "", nil},
		{"CA revoked after signing, no time-stamp", lateCA, lateCAOpts, Indeterminate, RevokedCANoPOE, "", nil},
		{"expired certificate without time-stamp", expired, nil, TotalFailed, Expired, "", nil},
		{"validated after expiry without time-stamp", short, after, Indeterminate, OutOfBoundsNoPOE, "", nil},
		{"signature field removed", appendUpdate(t, lt, map[uint32]string{afRef(t, lt).Num: "<</Fields []>>"}),
			nil, Indeterminate, SigConstraintsFailure, ModSignatureRemoved, nil},
		{"DocMDP P=1 then annotation", annotOverText(t, certified), nil, TotalFailed, HashFailure, ModAnnotAdded, nil},
		{"DocMDP P=2 then annotation", annotOverText(t, certified2), nil, TotalFailed, HashFailure, ModAnnotAdded, nil},
		{"DocMDP P=1 then content change", appendUpdate(t, certified, map[uint32]string{5: "<</Length 2>>\nstream\nq\nendstream"}), nil, TotalFailed, HashFailure, ModPageContent, nil},
		{"DocMDP P=3 then content change", appendUpdate(t, certified3, map[uint32]string{5: "<</Length 2>>\nstream\nq\nendstream"}), nil, TotalFailed, HashFailure, ModPageContent, nil},
		{"signed byte changed in place", inPlace, nil, TotalFailed, HashFailure, "", func(r *Report) error {
			if c := r.Signatures[0].Checks.Digest; c != CheckFailed {
				return fmt.Errorf("digest check %q, want failed", c)
			}
			return nil
		}},
		{"CMS of another document", withContents(t, bt, bt2CMS), nil, TotalFailed, HashFailure, "", nil},
		{"revoked before signing, no time-stamp", revokedBB, &Options{TrustAnchors: pr.Chain()[1:], Time: pr.Now.Add(time.Hour), Online: true}, TotalFailed, Revoked, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			if o == nil {
				o = trusting(p)
				o.Online = true
			}
			rep := validate(t, tc.doc, o)
			if len(rep.Signatures) == 0 {
				t.Fatalf("no signature: %s %s", rep.SubIndication, rep.Problem)
			}
			s := rep.Signatures[0]
			if s.Indication != tc.ind || s.SubIndication != tc.sub {
				t.Errorf("%s/%s, want %s/%s: %v", s.Indication, s.SubIndication, tc.ind, tc.sub, s.Findings)
			}
			if tc.kind != "" && !hasMod(rep, tc.kind) {
				t.Errorf("no %s modification in %+v", tc.kind, rep.Modifications)
			}
			if rep.Indication == TotalPassed {
				t.Errorf("document passed")
			}
			if tc.more != nil {
				if err := tc.more(rep); err != nil {
					t.Error(err)
				}
			}
			t.Logf("%s", s.Explanation.EN)
		})
	}
}

// afRef returns the reference of the AcroForm dictionary (the signer
// writes it as an indirect object).
func afRef(t testing.TB, b []byte) pdf.Ref {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, r, err := rd.AcroForm()
	if err != nil || r == (pdf.Ref{}) {
		t.Fatalf("no indirect AcroForm: %v", err)
	}
	return r
}

// TestCertifiedP3AllowsAnnotation checks that an annotation added after a
// certification with P=3 is an allowed change, still listed.
func TestCertifiedP3AllowsAnnotation(t *testing.T) {
	p := testpki.New(t, nil)
	o := signOpts(p, signer.LevelBLT)
	o.Certify = 3
	doc := annotOverText(t, sign(t, makePDF(t, 1), p.SignerKey, o))
	rep := validate(t, doc, trusting(p))
	s := rep.Signatures[0]
	if s.Indication != TotalPassed {
		t.Fatalf("%s/%s, want TOTAL-PASSED: %v", s.Indication, s.SubIndication, s.Findings)
	}
	found := false
	for _, m := range s.Modifications {
		if m.Kind == ModAnnotAdded {
			found = true
			if !m.Allowed {
				t.Errorf("%+v not allowed under P=3", m)
			}
		}
	}
	if !found {
		t.Errorf("the annotation is not listed: %+v", s.Modifications)
	}
}
