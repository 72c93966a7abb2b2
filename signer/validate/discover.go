package validate

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// sig is one signature or document time-stamp being validated.
type sig struct {
	rep      *Signature
	field    string
	fieldRef pdf.Ref
	dictRef  pdf.Ref // zero when the dictionary is direct
	dict     pdf.Dict
	foundIn  int // first revision whose field tree shows it
	rev      int // revision the byte range covers, -1 if none
	br       []int64
	contents []byte
	docTS    bool
	legacy   bool

	verdictSet bool
	ind        Indication
	sub        SubIndication
	detail     string
	poe        []poe // proofs of existence (trusted time-stamps)
	sigTS      bool  // carries a valid signature time-stamp
	hashOK     bool
	cryptoOK   bool
	mdp        int // DocMDP permission when this is a certification signature
	locks      *fieldLock
	imprint    []byte // the signature value, which its time-stamps cover
	cert       *x509.Certificate
	tokens     []token // the time-stamp tokens of rep.Timestamps checked here
}

// token is a time-stamp token of a signature: its entry in
// rep.Timestamps and the TSA chain built for it.
type token struct {
	idx   int
	chain []*x509.Certificate
}

type poe struct {
	kind string
	t    time.Time
}

// fieldLock is what a FieldMDP transform locks.
type fieldLock struct {
	action string // All, Include, Exclude
	fields map[string]bool
}

func (l *fieldLock) locks(name string) bool {
	if l == nil {
		return false
	}
	switch l.action {
	case "All":
		return true
	case "Include":
		return l.fields[name]
	case "Exclude":
		return !l.fields[name]
	}
	return false
}

// setVerdict records the first decisive outcome; later ones only add
// findings.
func (s *sig) setVerdict(ind Indication, sub SubIndication, detail string) {
	s.finding(detail)
	if s.verdictSet {
		return
	}
	s.verdictSet, s.ind, s.sub, s.detail = true, ind, sub, detail
}

func (s *sig) finding(f string) {
	if f != "" {
		s.rep.Findings = append(s.rep.Findings, f)
	}
}

// discover walks the AcroForm field tree of every revision and collects
// the signature fields that have a value. A signature is identified by its
// /ByteRange; the newest revision's view of it is kept for reporting, and
// the view of the revision it covers for validation.
func (d *doc) discover() {
	byKey := map[string]*sig{}
	known := map[knownSig]bool{}
	for i, rd := range d.revs {
		found, err := d.sigFields(rd, known)
		if err != nil && i == len(d.revs)-1 {
			d.rep.Problem = "read form fields: " + err.Error()
		}
		for _, f := range found {
			key := fmt.Sprint(f.br)
			s, ok := byKey[key]
			if !ok {
				if len(d.sigs) >= d.lim.MaxSignatures {
					d.rep.Problem = fmt.Sprintf("more than %d signatures; the rest are not validated", d.lim.MaxSignatures)
					continue
				}
				f.foundIn = i
				byKey[key] = f
				d.sigs = append(d.sigs, f)
				continue
			}
			s.field = f.field
		}
	}
	// Order by the revision each signature covers.
	for i := range d.sigs {
		for j := i + 1; j < len(d.sigs); j++ {
			if end(d.sigs[j].br) < end(d.sigs[i].br) {
				d.sigs[i], d.sigs[j] = d.sigs[j], d.sigs[i]
			}
		}
	}
	for i, s := range d.sigs {
		s.rep.Index = i + 1
		s.rep.ID = fmt.Sprintf("sig-%d", i+1)
		s.rep.Field = s.field
		s.rev = d.revisionOf(end(s.br))
		s.rep.Revision = s.rev + 1
		s.rep.CoversWholeFile = end(s.br) == d.size
		// Read the dictionary as the covered revision shows it.
		if s.rev >= 0 && s.dictRef != (pdf.Ref{}) {
			if dd, err := d.revs[s.rev].GetDict(s.dictRef); err == nil && dd != nil {
				s.dict = dd
			}
		}
		d.describe(s)
	}
}

func end(br []int64) int64 {
	if len(br) != 4 {
		return -1
	}
	return br[2] + br[3]
}

// knownSig identifies a signature dictionary read in an earlier revision:
// the same object at the same place holds the same bytes.
type knownSig struct {
	ref pdf.Ref
	at  pdf.XrefEntry
}

// sigFields returns the signed signature fields of one revision, skipping
// signature dictionaries already read from the same place (known).
func (d *doc) sigFields(rd *pdf.Reader, known map[knownSig]bool) ([]*sig, error) {
	af, _, err := rd.AcroForm()
	if err != nil || af == nil {
		return nil, err
	}
	fields, err := rd.GetArray(af["Fields"])
	if err != nil {
		return nil, fmt.Errorf("read /Fields: %w", err)
	}
	var out []*sig
	seen := map[pdf.Ref]bool{}
	count := 0
	var walk func(o pdf.Object, name string, ft pdf.Name, depth int) error
	walk = func(o pdf.Object, name string, ft pdf.Name, depth int) error {
		if depth > 32 {
			return fmt.Errorf("field tree deeper than 32")
		}
		if count++; count > d.lim.MaxFields {
			return fmt.Errorf("more than %d form fields", d.lim.MaxFields)
		}
		ref, isRef := o.(pdf.Ref)
		if isRef {
			if seen[ref] {
				return nil // a loop or a shared kid
			}
			seen[ref] = true
		}
		f, err := rd.GetDict(o)
		if err != nil || f == nil {
			return err
		}
		if t, ok := f["T"].(pdf.String); ok {
			if name != "" {
				name += "."
			}
			name += textString(t)
		}
		if v, ok := f["FT"].(pdf.Name); ok {
			ft = v
		}
		if kids, _ := rd.GetArray(f["Kids"]); len(kids) > 0 {
			for _, k := range kids {
				if err := walk(k, name, ft, depth+1); err != nil {
					return err
				}
			}
		}
		if ft != "Sig" || f["V"] == nil {
			return nil
		}
		vref, isRef := f["V"].(pdf.Ref)
		if isRef {
			k := knownSig{vref, rd.Entry(vref.Num)}
			if known[k] {
				return nil
			}
			known[k] = true
		}
		v, err := rd.GetDict(f["V"])
		if err != nil || v == nil {
			return nil
		}
		br := byteRange(v["ByteRange"])
		if br == nil {
			return nil
		}
		out = append(out, &sig{rep: &Signature{Findings: []string{}, Chain: []Certificate{}, Timestamps: []Timestamp{}, Revocation: []Revocation{}, Modifications: []Modification{}},
			field: name, fieldRef: ref, dictRef: vref, dict: v, br: br, rev: -1})
		return nil
	}
	for _, f := range fields {
		if err := walk(f, "", "", 0); err != nil {
			return out, err
		}
	}
	return out, nil
}

// byteRange returns a /ByteRange of four integers, or a shorter or longer
// slice when malformed (nil when not an array of integers).
func byteRange(o pdf.Object) []int64 {
	a, ok := o.(pdf.Array)
	if !ok || len(a) > 64 {
		return nil
	}
	out := make([]int64, 0, len(a))
	for _, e := range a {
		n, ok := pdf.AsInt(e)
		if !ok {
			return nil
		}
		out = append(out, n)
	}
	return out
}

// describe fills the descriptive fields of the report.
func (d *doc) describe(s *sig) {
	sf, _ := s.dict["SubFilter"].(pdf.Name)
	s.rep.SubFilter = string(sf)
	s.docTS = sf == "ETSI.RFC3161" || s.dict["Type"] == pdf.Name("DocTimeStamp")
	s.legacy = sf == "adbe.pkcs7.detached" || sf == "adbe.pkcs7.sha1" || sf == "adbe.x509.rsa_sha1"
	s.rep.Kind = "signature"
	if s.docTS {
		s.rep.Kind = "document-timestamp"
	}
	s.rep.ByteRange = append([]int64(nil), s.br...)
	str := func(k pdf.Name) string {
		if v, ok := s.dict[k].(pdf.String); ok {
			return textString(v)
		}
		return ""
	}
	s.rep.Name, s.rep.Reason, s.rep.Location, s.rep.ContactInfo = str("Name"), str("Reason"), str("Location"), str("ContactInfo")
	if m := str("M"); m != "" {
		if t, ok := parseDate(m); ok {
			s.rep.ClaimedTime = &t
		}
	}
	if c, ok := s.dict["Contents"].(pdf.String); ok {
		s.contents = c
	}
}

// textString decodes a PDF text string (UTF-16BE with BOM, UTF-8 with
// BOM, or PDFDocEncoding read as Latin-1).
func textString(b []byte) string {
	if len(b) >= 2 && b[0] == 0xfe && b[1] == 0xff {
		u := make([]uint16, 0, len(b)/2)
		for i := 2; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		}
		return string(utf16.Decode(u))
	}
	if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		return strings.ToValidUTF8(string(b[3:]), "\uFFFD")
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}
