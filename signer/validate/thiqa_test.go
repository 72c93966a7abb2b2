package validate

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// makePDF returns a PDF with n pages of a little text each.
func makePDF(t testing.TB, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	var objs []string
	kids := ""
	for i := 0; i < n; i++ {
		kids += fmt.Sprintf("%d 0 R ", 4+2*i)
	}
	objs = append(objs, "<</Type /Catalog /Pages 2 0 R>>", fmt.Sprintf("<</Type /Pages /Kids [%s] /Count %d>>", kids, n),
		"<</Type /Font /Subtype /Type1 /BaseFont /Helvetica>>")
	for i := 0; i < n; i++ {
		content := fmt.Sprintf("BT /F1 12 Tf 72 720 Td (Thiqa test document, page %d: pay 100 JOD) Tj ET", i+1)
		objs = append(objs,
			fmt.Sprintf("<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources <</Font <</F1 3 0 R>>>>>>", 5+2*i),
			fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(content), content))
	}
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

// rawRevocation hands out the PKI's current revocation data without
// judging it, so that a revoked certificate's status lands in the DSS.
type rawRevocation struct{ p *testpki.PKI }

func (r rawRevocation) Revocation(ctx context.Context, cert, issuer *x509.Certificate) (*signer.Revocation, error) {
	if issuer.Equal(r.p.CA) {
		o, err := r.p.OCSPResponse(cert)
		return &signer.Revocation{OCSP: [][]byte{o}, Certs: []*x509.Certificate{r.p.OCSPResponder}}, err
	}
	c, err := r.p.CRL(issuer)
	return &signer.Revocation{CRLs: [][]byte{c}}, err
}

func signOpts(p *testpki.PKI, level signer.Level) *signer.Options {
	return &signer.Options{
		Certificate: p.Signer, Chain: p.Chain(), Level: level, Time: p.Now,
		Timestamper: signer.TimestamperFunc(p.Authority.Token), Revocation: rawRevocation{p},
		Reason: "Approval", Location: "Amman",
	}
}

func sign(t testing.TB, in []byte, key crypto.Signer, o *signer.Options) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := signer.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, key, o); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return out.Bytes()
}

func validate(t testing.TB, b []byte, o *Options) *Report {
	t.Helper()
	rep, err := Validate(context.Background(), bytes.NewReader(b), int64(len(b)), o)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return rep
}

func trusting(p *testpki.PKI) *Options {
	return &Options{TrustAnchors: []*x509.Certificate{p.Root}, Time: p.Now.Add(time.Hour)}
}

// appendUpdate appends an incremental update that defines objs (object
// number to PDF syntax) with a classic xref section.
func appendUpdate(t testing.TB, in []byte, objs map[uint32]string) []byte {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(in), int64(len(in)), nil)
	if err != nil {
		t.Fatalf("appendUpdate: %v", err)
	}
	out := append([]byte(nil), in...)
	if out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	size := rd.MaxObjectNumber()
	var nums []int
	for n := range objs {
		nums = append(nums, int(n))
		if n+1 > size {
			size = n + 1
		}
	}
	offs := map[int]int{}
	for i := 0; i < len(nums); i++ {
		for j := i + 1; j < len(nums); j++ {
			if nums[j] < nums[i] {
				nums[i], nums[j] = nums[j], nums[i]
			}
		}
	}
	for _, n := range nums {
		offs[n] = len(out)
		out = fmt.Appendf(out, "%d 0 obj\n%s\nendobj\n", n, objs[uint32(n)])
	}
	start := len(out)
	out = append(out, "xref\n"...)
	for _, n := range nums {
		out = fmt.Appendf(out, "%d 1\n%010d 00000 n \n", n, offs[n])
	}
	tr := pdf.Dict{"Size": pdf.Int(size), "Root": rd.Root(), "Prev": pdf.Int(rd.StartXref())}
	if id, ok := rd.Trailer()["ID"]; ok {
		tr["ID"] = id
	}
	out = append(out, "trailer\n"...)
	out = pdf.AppendObject(out, tr)
	return fmt.Appendf(out, "\nstartxref\n%d\n%%%%EOF\n", start)
}

// object returns the PDF syntax of object ref in b after f edits it.
func object(t testing.TB, b []byte, ref pdf.Ref, f func(pdf.Dict)) string {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := rd.GetDict(ref)
	if err != nil || d == nil {
		t.Fatalf("object %v: %v", ref, err)
	}
	d = d.Clone()
	f(d)
	return string(pdf.AppendObject(nil, d))
}

// sigDictRef returns the reference of the first signature dictionary.
func sigDictRef(t testing.TB, b []byte) pdf.Ref {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	af, _, _ := rd.AcroForm()
	fs, _ := rd.GetArray(af["Fields"])
	for _, f := range fs {
		fd, _ := rd.GetDict(f)
		if r, ok := fd["V"].(pdf.Ref); ok {
			return r
		}
	}
	t.Fatal("no signature dictionary")
	return pdf.Ref{}
}

var byteRangeRE = regexp.MustCompile(`/ByteRange\s*\[([0-9 ]+)\]`)

// editByteRange rewrites the first /ByteRange in place, keeping its width.
func editByteRange(t testing.TB, b []byte, f func(br []int64)) []byte {
	t.Helper()
	out := append([]byte(nil), b...)
	m := byteRangeRE.FindSubmatchIndex(out)
	if m == nil {
		t.Fatal("no /ByteRange")
	}
	var br []int64
	for _, s := range bytes.Fields(out[m[2]:m[3]]) {
		v, _ := strconv.ParseInt(string(s), 10, 64)
		br = append(br, v)
	}
	f(br)
	s := fmt.Sprintf("%d %d %d %d", br[0], br[1], br[2], br[3])
	if len(s) > m[3]-m[2] {
		t.Fatalf("byte range %q does not fit in %d bytes", s, m[3]-m[2])
	}
	s += string(bytes.Repeat([]byte(" "), m[3]-m[2]-len(s)))
	copy(out[m[2]:m[3]], s)
	return out
}

// issueCert issues a signer certificate under the PKI's issuing CA with
// the given validity.
func issueCert(t testing.TB, p *testpki.PKI, from, to time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "Short-lived Signer", Country: []string{"JO"}},
		NotBefore:    from, NotAfter: to,
		KeyUsage:   x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		OCSPServer: []string{p.OCSPURL}, CRLDistributionPoints: []string{p.CACRLURL},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, p.SignerKey.Public(), p.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func hasMod(rep *Report, kind string) bool {
	for _, m := range rep.Modifications {
		if m.Kind == kind {
			return true
		}
	}
	return false
}

// TestThiqaLevels signs at every level and checks the reported level and
// a TOTAL-PASSED verdict with the test root trusted.
func TestThiqaLevels(t *testing.T) {
	p := testpki.New(t, nil)
	doc := makePDF(t, 1)
	for _, tc := range []struct {
		level  signer.Level
		want   string
		online bool
	}{
		{signer.LevelBB, "B-B", true},
		{signer.LevelBT, "B-T", true},
		{signer.LevelBLT, "B-LT", false},
		{signer.LevelBLTA, "B-LTA", false},
	} {
		t.Run(tc.want, func(t *testing.T) {
			signed := sign(t, doc, p.SignerKey, signOpts(p, tc.level))
			o := trusting(p)
			o.Online = tc.online
			rep := validate(t, signed, o)
			s := rep.Signatures[0]
			if s.Level != tc.want {
				t.Errorf("level %s, want %s", s.Level, tc.want)
			}
			if rep.Indication != TotalPassed {
				t.Errorf("%s/%s: %v", rep.Indication, rep.SubIndication, s.Findings)
			}
			for _, x := range rep.Signatures {
				if x.Indication != TotalPassed {
					t.Errorf("%s (%s): %s/%s: %v", x.ID, x.Kind, x.Indication, x.SubIndication, x.Findings)
				}
			}
			if tc.online {
				// Without fetching, no revocation data: TRY_LATER.
				rep := validate(t, signed, trusting(p))
				if rep.Signatures[0].SubIndication != TryLater {
					t.Errorf("offline: %s/%s, want INDETERMINATE/TRY_LATER", rep.Indication, rep.SubIndication)
				}
			}
			// Without the root: NO_CERTIFICATE_CHAIN_FOUND.
			rep = validate(t, signed, &Options{Time: p.Now})
			if rep.Signatures[0].SubIndication != NoCertificateChain {
				t.Errorf("untrusted: %s/%s", rep.Indication, rep.SubIndication)
			}
		})
	}
}

// TestSerialSignatures checks that a second signature and its LTV data
// are allowed changes for the first.
func TestSerialSignatures(t *testing.T) {
	p := testpki.New(t, nil)
	one := sign(t, makePDF(t, 1), p.SignerKey, signOpts(p, signer.LevelBLT))
	cert, key := p.IssueSigner(t, testpki.ECDSAP256, "Second Signer")
	o := signOpts(p, signer.LevelBLTA)
	o.Certificate = cert
	two := sign(t, one, key, o)
	rep := validate(t, two, trusting(p))
	if rep.Indication != TotalPassed || len(rep.Signatures) != 3 {
		for _, s := range rep.Signatures {
			t.Logf("%s %s %s/%s %v", s.ID, s.Level, s.Indication, s.SubIndication, s.Findings)
		}
		t.Fatalf("%s/%s with %d signatures, want TOTAL-PASSED with 3", rep.Indication, rep.SubIndication, len(rep.Signatures))
	}
	if got := rep.Signatures[0].Level; got != "B-LTA" {
		t.Errorf("first signature level %s, want B-LTA (its DSS is covered by the later document time-stamp)", got)
	}
	for _, m := range rep.Signatures[0].Modifications {
		if !m.Allowed {
			t.Errorf("modification %+v not allowed", m)
		}
	}
}

// TestCertifiedThenApproved checks that an approval signature added to a
// document certified with P=2 is an allowed change, and that the
// certification is reported.
func TestCertifiedThenApproved(t *testing.T) {
	p := testpki.New(t, nil)
	o := signOpts(p, signer.LevelBLT)
	o.Certify = 2
	certified := sign(t, makePDF(t, 1), p.SignerKey, o)
	cert, key := p.IssueSigner(t, testpki.ECDSAP256, "Approver")
	a := signOpts(p, signer.LevelBLT)
	a.Certificate = cert
	both := sign(t, certified, key, a)
	rep := validate(t, both, trusting(p))
	if rep.Indication != TotalPassed || len(rep.Signatures) != 2 {
		for _, s := range rep.Signatures {
			t.Logf("%s %s/%s %v", s.ID, s.Indication, s.SubIndication, s.Findings)
		}
		t.Fatalf("%s/%s with %d signatures", rep.Indication, rep.SubIndication, len(rep.Signatures))
	}
	if got := rep.Signatures[0].Certification; got != 2 {
		t.Errorf("certification permission %d, want 2", got)
	}
	if !hasMod(rep, ModSignatureAdded) {
		t.Errorf("the approval signature is not listed as a change: %+v", rep.Modifications)
	}
}
