package signer

import (
	"errors"
	"fmt"
	"unicode/utf16"

	"github.com/thiqa/thiqa/signer/internal/pdf"
)

const maxFields = 10000

// fieldInfo describes an existing top-level field.
type fieldInfo struct {
	ref    pdf.Ref // zero when the field is a direct object
	dict   pdf.Dict
	sig    bool // /FT /Sig
	signed bool // has /V
}

// docState is what signing needs to know about the fields of a document.
type docState struct {
	names    map[string]bool // top-level field names
	fields   map[string]fieldInfo
	signed   int // signature fields with a value
	docMDP   int // P of the certification signature, 0 if none
	catalog  pdf.Dict
	acroForm pdf.Dict
	afRef    pdf.Ref // zero when /AcroForm is direct or absent
}

func inspect(rd *pdf.Reader) (*docState, error) {
	cat, err := rd.Catalog()
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	af, afRef, err := rd.AcroForm()
	if err != nil {
		return nil, err
	}
	st := &docState{names: map[string]bool{}, fields: map[string]fieldInfo{}, catalog: cat, acroForm: af, afRef: afRef}
	if af != nil {
		fields, err := rd.GetArray(af["Fields"])
		if err != nil {
			return nil, fmt.Errorf("read /AcroForm /Fields: %w", err)
		}
		if len(fields) > maxFields {
			return nil, fmt.Errorf("read /AcroForm /Fields: %w: %d fields", pdf.ErrLimit, len(fields))
		}
		for _, f := range fields {
			fd, err := rd.GetDict(f)
			if err != nil || fd == nil {
				continue
			}
			sig, signed := fd["FT"] == pdf.Name("Sig"), fd["V"] != nil
			if sig && signed {
				st.signed++
			}
			if t, ok := fd["T"].(pdf.String); ok {
				st.names[string(t)] = true
				ref, _ := f.(pdf.Ref)
				st.fields[string(t)] = fieldInfo{ref: ref, dict: fd, sig: sig, signed: signed}
			}
		}
	}
	if p, err := docMDPLevel(rd, cat); err != nil {
		return nil, err
	} else {
		st.docMDP = p
	}
	return st, nil
}

// docMDPLevel returns the /P of the certification signature named in the
// catalog's /Perms /DocMDP, or 0.
func docMDPLevel(rd *pdf.Reader, cat pdf.Dict) (int, error) {
	perms, err := rd.GetDict(cat["Perms"])
	if err != nil || perms == nil {
		return 0, err
	}
	sig, err := rd.GetDict(perms["DocMDP"])
	if err != nil || sig == nil {
		return 0, err
	}
	refs, err := rd.GetArray(sig["Reference"])
	if err != nil {
		return 0, err
	}
	for _, r := range refs {
		sr, err := rd.GetDict(r)
		if err != nil || sr == nil || sr["TransformMethod"] != pdf.Name("DocMDP") {
			continue
		}
		tp, _ := rd.GetDict(sr["TransformParams"])
		p, ok := pdf.AsInt(tp["P"])
		if !ok || p < 1 || p > 3 {
			p = 2 // the default of ISO 32000-1 table 254
		}
		return int(p), nil
	}
	return 2, nil
}

// fieldName returns the first "Signature<n>" not in use.
func (st *docState) fieldName(prefix string) string {
	for i := 1; ; i++ {
		n := fmt.Sprintf("%s%d", prefix, i)
		if !st.names[n] {
			return n
		}
	}
}

// widgetSpec says where the signature widget goes.
type widgetSpec struct {
	name  string
	page  int        // 0-based page index
	rect  [4]float64 // zero for an invisible signature
	ap    pdf.Ref    // appearance stream, zero for none
	perms bool       // set catalog /Perms /DocMDP to the signature
}

// addField adds the signature field/widget for sigRef to u, updating the
// page's /Annots, the AcroForm (created or extended, SigFlags 3) and the
// catalog. It returns the catalog as updated (already set in u).
func addField(u *update, rd *pdf.Reader, st *docState, sigRef pdf.Ref, w widgetSpec) (pdf.Dict, error) {
	if fi, ok := st.fields[w.name]; ok {
		return fillField(u, rd, st, fi, sigRef, w)
	}
	page, err := rd.PageAt(w.page)
	if errors.Is(err, pdf.ErrNotFound) {
		return nil, fmt.Errorf("%w: no page %d", ErrOptions, w.page+1)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: page tree: %w", ErrDocument, err)
	}
	if page.Ref == (pdf.Ref{}) && w.rect == ([4]float64{}) {
		page = firstIndirectPage(rd, page)
	}
	widget := pdf.Dict{
		"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"), "FT": pdf.Name("Sig"),
		"T": pdf.String(w.name), "V": sigRef, "F": pdf.Int(132),
		"Rect": pdf.Array{pdf.Real(w.rect[0]), pdf.Real(w.rect[1]), pdf.Real(w.rect[2]), pdf.Real(w.rect[3])},
	}
	if w.ap == (pdf.Ref{}) {
		// An invisible widget still gets an (empty) appearance: PDF/A
		// requires one on every widget.
		w.ap = u.add(pdf.NewStream(pdf.Dict{
			"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
			"BBox": pdf.Array{pdf.Int(0), pdf.Int(0), pdf.Int(0), pdf.Int(0)},
		}, nil))
	}
	widget["AP"] = pdf.Dict{"N": w.ap}
	wref := u.add(widget)
	if err := attachWidget(u, rd, page, widget, wref); err != nil {
		return nil, err
	}
	cat := st.catalog.Clone()
	af := st.acroForm.Clone()
	if af == nil {
		af = pdf.Dict{}
	}
	if fr, ok := af["Fields"].(pdf.Ref); ok {
		arr, err := rd.GetArray(fr)
		if err != nil {
			return nil, fmt.Errorf("read /AcroForm /Fields: %w", err)
		}
		u.set(fr, append(append(pdf.Array(nil), arr...), wref))
	} else {
		arr, _ := af["Fields"].(pdf.Array)
		af["Fields"] = append(append(pdf.Array(nil), arr...), wref)
	}
	af["SigFlags"] = pdf.Int(3)
	if st.afRef != (pdf.Ref{}) {
		u.set(st.afRef, af)
	} else {
		cat["AcroForm"] = u.add(af)
	}
	if w.perms {
		cat["Perms"] = pdf.Dict{"DocMDP": sigRef}
	}
	u.set(u.root, cat)
	return cat, nil
}

// textString encodes s as a PDF text string: bytes as is when ASCII,
// otherwise UTF-16BE with a byte order mark.
func textString(s string) pdf.String {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return pdf.String(s)
	}
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2, 2+2*len(u))
	b[0], b[1] = 0xfe, 0xff
	for _, c := range u {
		b = append(b, byte(c>>8), byte(c))
	}
	return pdf.String(b)
}

// fillField signs an existing, empty signature field: the field gets /V
// and, for a visible signature, its widget gets /AP (its /Rect and page
// stay as the form's author placed them).
func fillField(u *update, rd *pdf.Reader, st *docState, fi fieldInfo, sigRef pdf.Ref, w widgetSpec) (pdf.Dict, error) {
	switch {
	case !fi.sig:
		return nil, fmt.Errorf("%w: field %q is not a signature field", ErrOptions, w.name)
	case fi.signed:
		return nil, fmt.Errorf("%w: field %q is already signed", ErrOptions, w.name)
	case fi.ref == (pdf.Ref{}):
		return nil, fmt.Errorf("%w: field %q is a direct object", ErrOptions, w.name)
	}
	fd := fi.dict.Clone()
	fd["V"] = sigRef
	if w.ap != (pdf.Ref{}) {
		if fd["Subtype"] == pdf.Name("Widget") {
			fd["AP"] = pdf.Dict{"N": w.ap}
		} else if kids, err := rd.GetArray(fd["Kids"]); err == nil && len(kids) > 0 {
			if kr, ok := kids[0].(pdf.Ref); ok {
				kd, err := rd.GetDict(kr)
				if err != nil || kd == nil {
					return nil, fmt.Errorf("read widget of field %q: %w", w.name, err)
				}
				kd = kd.Clone()
				kd["AP"] = pdf.Dict{"N": w.ap}
				u.set(kr, kd)
			}
		}
	}
	u.set(fi.ref, fd)
	cat := st.catalog.Clone()
	af := st.acroForm.Clone()
	af["SigFlags"] = pdf.Int(3)
	if st.afRef != (pdf.Ref{}) {
		u.set(st.afRef, af)
	} else {
		cat["AcroForm"] = af
	}
	if w.perms {
		cat["Perms"] = pdf.Dict{"DocMDP": sigRef}
	}
	if st.afRef == (pdf.Ref{}) || w.perms {
		u.set(u.root, cat)
	}
	return cat, nil
}

// firstIndirectPage returns the first page that is an indirect object
// (an invisible widget may go on any page), or def.
func firstIndirectPage(rd *pdf.Reader, def pdf.Page) pdf.Page {
	pages, _ := rd.Pages()
	for _, p := range pages {
		if p.Ref != (pdf.Ref{}) {
			return p
		}
	}
	return def
}

// attachWidget adds the widget to the page's /Annots, extending the array
// object when /Annots is indirect.
func attachWidget(u *update, rd *pdf.Reader, page pdf.Page, widget pdf.Dict, wref pdf.Ref) error {
	if page.Ref == (pdf.Ref{}) {
		// A page written directly in its parent's /Kids cannot be
		// changed by an incremental update of that page alone.
		return fmt.Errorf("%w: the page is a direct object of the page tree; choose another page", ErrOptions)
	}
	widget["P"] = page.Ref
	pd := page.Dict.Clone()
	if ar, ok := pd["Annots"].(pdf.Ref); ok {
		arr, err := rd.GetArray(ar)
		if err != nil {
			return fmt.Errorf("read page /Annots: %w", err)
		}
		u.set(ar, append(append(pdf.Array(nil), arr...), wref))
		return nil
	}
	arr, _ := pd["Annots"].(pdf.Array)
	pd["Annots"] = append(append(pdf.Array(nil), arr...), wref)
	u.set(page.Ref, pd)
	return nil
}
