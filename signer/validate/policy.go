package validate

import (
	"fmt"
	"strings"

	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// findDocMDP reads the DocMDP and FieldMDP transforms of each signature
// and the /Lock of its field.
func (d *doc) findDocMDP() {
	for _, s := range d.sigs {
		if s.docTS {
			continue
		}
		rd := d.final
		if s.rev >= 0 {
			rd = d.revs[s.rev]
		}
		refs, _ := rd.GetArray(s.dict["Reference"])
		for i, o := range refs {
			if i > 16 {
				break
			}
			ref, _ := rd.GetDict(o)
			if ref == nil {
				continue
			}
			params, _ := rd.GetDict(ref["TransformParams"])
			switch ref["TransformMethod"] {
			case pdf.Name("DocMDP"):
				p, ok := pdf.AsInt(params["P"])
				if !ok {
					p = 2
				}
				if p < 1 || p > 3 {
					s.finding(fmt.Sprintf("DocMDP permission %d is not 1, 2 or 3; 2 assumed", p))
					p = 2
				}
				s.mdp = int(p)
			case pdf.Name("FieldMDP"):
				s.locks = d.readLock(rd, params)
			}
		}
		if s.locks == nil && s.fieldRef != (pdf.Ref{}) {
			if f, _ := rd.GetDict(s.fieldRef); f != nil {
				if l, _ := rd.GetDict(f["Lock"]); l != nil {
					s.locks = d.readLock(rd, l)
				}
			}
		}
		if s.mdp > 0 {
			s.rep.Certification = s.mdp
			if d.docMDP == 0 {
				d.docMDP, d.certRev = s.mdp, s.rev
				if s != d.firstSignature() {
					s.finding("a certification signature must be the first signature of the document")
				}
			}
		}
	}
}

func (d *doc) firstSignature() *sig {
	for _, s := range d.sigs {
		if !s.docTS {
			return s
		}
	}
	return nil
}

func (d *doc) readLock(rd *pdf.Reader, p pdf.Dict) *fieldLock {
	l := &fieldLock{fields: map[string]bool{}}
	a, _ := p["Action"].(pdf.Name)
	l.action = string(a)
	fs, _ := rd.GetArray(p["Fields"])
	for i, f := range fs {
		if i > 4096 {
			break
		}
		if s, ok := f.(pdf.String); ok {
			l.fields[textString(s)] = true
		}
	}
	return l
}

// permitted decides whether a modification made after s is allowed.
func (d *doc) permitted(m Modification, s *sig) (ok bool, locked bool) {
	p := 0
	if d.docMDP > 0 && d.certRev >= 0 && m.Revision-1 > d.certRev {
		p = d.docMDP
	}
	isLocked := func() bool {
		for _, o := range d.sigs {
			if o.rev >= 0 && o.rev < m.Revision-1 && o.locks.locks(m.Field) {
				return true
			}
		}
		return false
	}
	switch m.Kind {
	case ModDSS, ModDocTimestamp, ModMetadata:
		return true, false
	case ModSignatureAdded, ModSigFieldAdded:
		return p != 1, false
	case ModSigFieldFilled:
		if isLocked() {
			return false, true
		}
		return p != 1, false
	case ModFieldChanged:
		if m.Field != "" && isLocked() {
			return false, true
		}
		return p != 1 && m.Field != "", false
	case ModAnnotAdded, ModAnnotChanged, ModAnnotRemoved:
		return p == 3, false
	}
	return false, false
}

// judgeModifications applies the modifications made after s to its
// verdict.
func (d *doc) judgeModifications(s *sig) {
	if s.rev < 0 {
		return
	}
	var bad []string
	fail := false
	for _, df := range d.diffs {
		if df.rev <= s.rev {
			continue
		}
		for _, m := range df.mods {
			ok, locked := d.permitted(m, s)
			m.Allowed = ok
			s.rep.Modifications = append(s.rep.Modifications, m)
			if ok {
				continue
			}
			what := m.Kind
			if m.Page > 0 {
				what += fmt.Sprintf(" (page %d)", m.Page)
			}
			if m.Field != "" {
				what += fmt.Sprintf(" (field %q)", m.Field)
			}
			if m.CoversContent {
				what += " covering signed content"
			}
			if locked {
				what += " locked by a signature (FieldMDP)"
			}
			bad = append(bad, fmt.Sprintf("revision %d: %s", m.Revision, what))
			if locked || (d.docMDP > 0 && m.Revision-1 > d.certRev) || (m.Kind == ModSignatureChanged && m.Object == s.dictRef.Num) {
				fail = true
			}
		}
	}
	c := &s.rep.Checks
	if len(bad) == 0 {
		c.Modifications = CheckPassed
		return
	}
	c.Modifications = CheckFailed
	list := strings.Join(bad, "; ")
	if len(bad) > 8 {
		list = strings.Join(bad[:8], "; ") + fmt.Sprintf("; and %d more", len(bad)-8)
	}
	if fail {
		msg := "the document was changed after signing in a way the signer's permissions forbid: " + list
		if d.docMDP > 0 {
			msg = fmt.Sprintf("the certification signature allows %s, but the document was changed after signing: %s", mdpText(d.docMDP), list)
		}
		if s.ind != TotalFailed {
			s.verdictSet = false
		}
		s.setVerdict(TotalFailed, HashFailure, msg)
		return
	}
	s.setVerdict(Indeterminate, SigConstraintsFailure, "the document was changed after this signature: "+list)
}

func mdpText(p int) string {
	switch p {
	case 1:
		return "no changes"
	case 2:
		return "only form filling and signing"
	}
	return "only form filling, signing and annotations"
}

// assignLevels decides the PAdES level each signature reaches.
func (d *doc) assignLevels() {
	dssRev := -1
	for _, df := range d.diffs {
		for _, m := range df.mods {
			if m.Kind == ModDSS && (dssRev < 0 || df.rev > dssRev) {
				dssRev = df.rev
			}
		}
	}
	for _, s := range d.sigs {
		switch {
		case s.docTS:
			s.rep.Level = "document-timestamp"
			continue
		case s.legacy:
			s.rep.Level = s.rep.SubFilter
			continue
		case s.rep.SubFilter != "ETSI.CAdES.detached":
			s.rep.Level = "none"
			continue
		case s.rep.Checks.SigningCertificate != CheckPassed:
			s.rep.Level = "none"
			continue
		}
		level := "B-B"
		later := func(min int) (int, bool) {
			for _, t := range d.sigs {
				if t.docTS && t.cryptoOK && t.rev > min {
					return t.rev, true
				}
			}
			return 0, false
		}
		if _, ok := later(s.rev); s.sigTS || ok {
			level = "B-T"
			lt := -1
			for _, df := range d.diffs {
				for _, m := range df.mods {
					if m.Kind == ModDSS && df.rev > s.rev && lt < 0 {
						lt = df.rev
					}
				}
			}
			if lt > 0 {
				level = "B-LT"
				if _, ok := later(lt - 1); ok {
					level = "B-LTA"
				}
			}
		}
		s.rep.Level = level
	}
}
