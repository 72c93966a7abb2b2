package validate

import (
	"fmt"
	"sort"

	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// revDiff is what revision rev (0-based index of the newer revision)
// changed compared with the revision before it.
type revDiff struct {
	rev  int
	mods []Modification
}

// differ compares two consecutive revisions a and b.
type differ struct {
	d          *doc
	a, b       *pdf.Reader
	rev        int // 1-based number of revision b, for the report
	overridden map[uint32]bool
	accounted  map[uint32]bool
	mods       []Modification
	seen       map[string]bool
	pageIndex  map[pdf.Ref]int // page ref in a -> 1-based page number
	pageRefs   map[pdf.Ref]bool
	budget     int // comparisons made by eq
}

// maxCompare bounds the object comparisons of one revision diff.
const maxCompare = 200_000

func (df *differ) add(m Modification) {
	m.Revision = df.rev
	key := fmt.Sprint(m.Kind, "|", m.Page, "|", m.Object, "|", m.Detail)
	if m.Field != "" {
		key = m.Kind + "|" + m.Field
	}
	if df.seen[key] {
		return
	}
	df.seen[key] = true
	df.mods = append(df.mods, m)
}

// analyseModifications compares each revision after the first signed one
// with the revision before it.
func (d *doc) analyseModifications() {
	first := -1
	for _, s := range d.sigs {
		if s.rev >= 0 && (first < 0 || s.rev < first) {
			first = s.rev
		}
	}
	if first < 0 {
		return
	}
	for k := first; k+1 < len(d.revs); k++ {
		if err := d.ctx.Err(); err != nil {
			d.diffs = append(d.diffs, revDiff{rev: k + 1, mods: []Modification{{Revision: k + 2, Kind: ModUnreadable, Detail: "analysis stopped: " + err.Error()}}})
			break
		}
		df := &differ{d: d, a: d.revs[k], b: d.revs[k+1], rev: k + 2, overridden: map[uint32]bool{}, accounted: map[uint32]bool{}, seen: map[string]bool{},
			pageIndex: map[pdf.Ref]int{}, pageRefs: map[pdf.Ref]bool{}}
		df.run()
		for _, s := range d.sigs {
			if s.rev == k+1 {
				kind := ModSignatureAdded
				if s.docTS {
					kind = ModDocTimestamp
				}
				df.add(Modification{Kind: kind, Field: s.field})
			}
		}
		d.diffs = append(d.diffs, revDiff{rev: k + 1, mods: df.mods})
		d.rep.Modifications = append(d.rep.Modifications, df.mods...)
	}
}

func (df *differ) run() {
	df.objects()
	df.pages()
	df.catalog()
	df.form()
	df.leftovers()
	sort.SliceStable(df.mods, func(i, j int) bool { return df.mods[i].Kind < df.mods[j].Kind })
}

// objects finds the objects of a that b redefines or frees.
func (df *differ) objects() {
	changed := map[uint32]bool{}
	for _, n := range df.b.ObjectNumbers() {
		ea, eb := df.a.Entry(n), df.b.Entry(n)
		if ea.InUse && ea != eb {
			changed[n] = true
		}
	}
	for _, n := range df.a.ObjectNumbers() {
		if !df.b.Entry(n).InUse {
			changed[n] = true
		}
	}
	// An object in an object stream that b redefines may have changed.
	for _, n := range df.a.ObjectNumbers() {
		ea := df.a.Entry(n)
		if ea.Compressed && changed[uint32(ea.Offset)] && ea == df.b.Entry(n) {
			changed[n] = true
		}
	}
	df.overridden = changed
}

func (df *differ) catalog() {
	ra, rb := df.a.Root(), df.b.Root()
	ca, _ := df.a.Catalog()
	cb, _ := df.b.Catalog()
	df.accounted[ra.Num] = true
	if ta, ok := df.a.Trailer()["Info"].(pdf.Ref); ok && df.overridden[ta.Num] {
		df.accounted[ta.Num] = true
		df.add(Modification{Kind: ModMetadata, Object: ta.Num, Detail: "document information dictionary changed"})
	}
	if ra != rb {
		df.add(Modification{Kind: ModCatalog, Object: rb.Num, Detail: fmt.Sprintf("the trailer names another catalog (%v instead of %v)", rb, ra)})
	}
	if ra == rb && !df.overridden[ra.Num] {
		df.markDSS(ca)
		return
	}
	keys := map[pdf.Name]bool{}
	for k := range ca {
		keys[k] = true
	}
	for k := range cb {
		keys[k] = true
	}
	for k := range keys {
		if df.equal(ca[k], cb[k]) {
			continue
		}
		switch k {
		case "DSS":
			df.add(Modification{Kind: ModDSS, Detail: "document security store added or updated"})
		case "AcroForm", "Extensions", "Version":
		case "Metadata":
			df.add(Modification{Kind: ModMetadata, Detail: "XMP metadata changed"})
		case "Outlines":
			df.add(Modification{Kind: ModOutline, Detail: "catalog /Outlines replaced"})
		default:
			df.add(Modification{Kind: ModCatalog, Detail: fmt.Sprintf("catalog /%s changed", k)})
		}
	}
	df.markDSS(ca)
}

// markDSS accounts for the DSS objects of a (allowed to change), and
// reports a DSS whose objects b redefines.
func (df *differ) markDSS(ca pdf.Dict) {
	for _, k := range []pdf.Name{"Metadata", "Extensions"} {
		if r, ok := ca[k].(pdf.Ref); ok && df.overridden[r.Num] {
			df.accounted[r.Num] = true
			if k == "Metadata" {
				df.add(Modification{Kind: ModMetadata, Object: r.Num, Detail: "XMP metadata changed"})
			}
		}
	}
	r, ok := ca["DSS"].(pdf.Ref)
	dss, _ := df.a.GetDict(ca["DSS"])
	changed := false
	mark := func(o pdf.Object) {
		if r, ok := o.(pdf.Ref); ok && df.overridden[r.Num] {
			df.accounted[r.Num] = true
			changed = true
		}
	}
	if ok {
		mark(r)
	}
	for _, k := range []pdf.Name{"Certs", "OCSPs", "CRLs", "VRI"} {
		mark(dss[k])
	}
	if vri, _ := df.a.GetDict(dss["VRI"]); vri != nil {
		n := 0
		for _, v := range vri {
			if n++; n > 4096 {
				break
			}
			mark(v)
		}
	}
	if changed {
		df.add(Modification{Kind: ModDSS, Detail: "document security store updated"})
	}
}

// equal compares an object of a with one of b. References to the same,
// unchanged object are equal; otherwise both sides are resolved (a few
// levels deep) and compared by content, so that an equal copy under a
// new number is not a change. Redefined objects found equal are marked
// accounted for.
func (df *differ) equal(x, y pdf.Object) bool { return df.eq(x, y, 0) }

func (df *differ) eq(x, y pdf.Object, depth int) bool {
	// A budget keeps shared sub-objects (a DAG) from making the
	// comparison exponential; when it runs out, objects compare unequal.
	if df.budget++; df.budget > maxCompare {
		return false
	}
	xr, xIsRef := x.(pdf.Ref)
	yr, yIsRef := y.(pdf.Ref)
	if xIsRef && yIsRef && xr == yr && !df.overridden[xr.Num] {
		return true
	}
	if xIsRef && yIsRef && df.pageRefs[xr] {
		// Pages are compared on their own.
		return xr == yr
	}
	if depth > 8 {
		return false
	}
	if xIsRef || yIsRef {
		xv, err1 := df.a.Resolve(x)
		yv, err2 := df.b.Resolve(y)
		if err1 != nil || err2 != nil {
			return false
		}
		ok := df.eq(xv, yv, depth+1)
		if ok && xIsRef && yIsRef && xr == yr {
			df.accounted[xr.Num] = true
		}
		return ok
	}
	switch a := x.(type) {
	case nil, pdf.Null:
		switch y.(type) {
		case nil, pdf.Null:
			return true
		}
		return false
	case pdf.String:
		b, ok := y.(pdf.String)
		return ok && string(a) == string(b)
	case pdf.Array:
		b, ok := y.(pdf.Array)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !df.eq(a[i], b[i], depth+1) {
				return false
			}
		}
		return true
	case pdf.Dict:
		b, ok := y.(pdf.Dict)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if !df.eq(v, b[k], depth+1) {
				return false
			}
		}
		return true
	case *pdf.Stream:
		b, ok := y.(*pdf.Stream)
		if !ok {
			return false
		}
		if a.Offset == b.Offset && a.Length == b.Length {
			return true
		}
		return df.sameStream(a, b, depth)
	}
	return x == y
}

// sameStream compares two streams by dictionary (but /Length) and
// encoded data, up to 4 MiB.
func (df *differ) sameStream(a, b *pdf.Stream, depth int) bool {
	if a.Length != b.Length || a.Length > 4<<20 || len(a.Dict) != len(b.Dict) {
		return false
	}
	for k, v := range a.Dict {
		if k != "Length" && !df.eq(v, b.Dict[k], depth+1) {
			return false
		}
	}
	da, err1 := df.a.RawStreamData(a)
	db, err2 := df.b.RawStreamData(b)
	return err1 == nil && err2 == nil && string(da) == string(db)
}

func (df *differ) pages() {
	pa, errA := df.a.Pages()
	pb, errB := df.b.Pages()
	if errB != nil {
		df.add(Modification{Kind: ModUnreadable, Detail: "page tree: " + errB.Error()})
		return
	}
	if errA != nil {
		return
	}
	inA := map[pdf.Ref]int{}
	for i, p := range pa {
		inA[p.Ref] = i
		df.pageIndex[p.Ref] = i + 1
		df.pageRefs[p.Ref] = true
	}
	inB := map[pdf.Ref]bool{}
	for i, p := range pb {
		inB[p.Ref] = true
		if _, ok := inA[p.Ref]; !ok {
			if i < len(pa) && len(pa) == len(pb) {
				df.add(Modification{Kind: ModPageContent, Page: i + 1, Object: p.Ref.Num, Detail: "page replaced by another page object"})
			} else {
				df.add(Modification{Kind: ModPageAdded, Page: i + 1, Object: p.Ref.Num, Detail: fmt.Sprintf("page %d added (%d pages, was %d)", i+1, len(pb), len(pa))})
			}
		}
	}
	for i, p := range pa {
		if !inB[p.Ref] && len(pa) != len(pb) {
			df.add(Modification{Kind: ModPageRemoved, Page: i + 1, Object: p.Ref.Num, Detail: fmt.Sprintf("page %d removed (%d pages, was %d)", i+1, len(pb), len(pa))})
		}
	}
	df.pageNodes()
	for i, p := range pb {
		j, ok := inA[p.Ref]
		if !ok {
			continue
		}
		if i != j {
			df.add(Modification{Kind: ModPageContent, Page: i + 1, Object: p.Ref.Num, Detail: fmt.Sprintf("page moved from position %d to %d", j+1, i+1)})
		}
		df.page(i+1, pa[j], p)
	}
}

func (df *differ) page(n int, a, b pdf.Page) {
	if df.overridden[a.Ref.Num] {
		df.accounted[a.Ref.Num] = true
		for k := range union(a.Dict, b.Dict) {
			if k == "Annots" || k == "Parent" {
				continue
			}
			if !df.equal(a.Dict[k], b.Dict[k]) {
				df.add(Modification{Kind: ModPageContent, Page: n, Object: a.Ref.Num, Detail: fmt.Sprintf("page /%s changed", k)})
			}
		}
	}
	if r, ok := a.Dict["Annots"].(pdf.Ref); ok && df.overridden[r.Num] {
		df.accounted[r.Num] = true
	}
	aa, _ := df.a.GetArray(a.Dict["Annots"])
	ab, _ := df.b.GetArray(b.Dict["Annots"])
	refsA := map[pdf.Ref]bool{}
	for _, o := range aa {
		if r, ok := o.(pdf.Ref); ok {
			refsA[r] = true
		}
	}
	refsB := map[pdf.Ref]bool{}
	direct := 0
	for _, o := range ab {
		r, ok := o.(pdf.Ref)
		if !ok {
			direct++
			continue
		}
		refsB[r] = true
		if !refsA[r] {
			df.newAnnot(n, b, r)
		} else if df.overridden[r.Num] {
			df.changedAnnot(n, b, r)
		}
	}
	for r := range refsA {
		if !refsB[r] {
			df.add(Modification{Kind: ModAnnotRemoved, Page: n, Object: r.Num, Detail: "annotation removed"})
		}
	}
	da := 0
	for _, o := range aa {
		if _, ok := o.(pdf.Ref); !ok {
			da++
		}
	}
	if direct != da {
		df.add(Modification{Kind: ModAnnotChanged, Page: n, Detail: "direct annotations changed"})
	}
}

func union(a, b pdf.Dict) map[pdf.Name]bool {
	out := map[pdf.Name]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// fieldType returns the field type of a widget or field and its name,
// following /Parent.
func fieldOf(rd *pdf.Reader, d pdf.Dict) (pdf.Name, string) {
	var ft pdf.Name
	name := ""
	for i := 0; d != nil && i < 32; i++ {
		if ft == "" {
			ft, _ = d["FT"].(pdf.Name)
		}
		if t, ok := d["T"].(pdf.String); ok {
			if name == "" {
				name = textString(t)
			} else {
				name = textString(t) + "." + name
			}
		}
		p, err := rd.GetDict(d["Parent"])
		if err != nil {
			break
		}
		d = p
	}
	return ft, name
}

func (df *differ) newAnnot(n int, p pdf.Page, r pdf.Ref) {
	a, _ := df.b.GetDict(r)
	if a == nil {
		return
	}
	st, _ := a["Subtype"].(pdf.Name)
	if st == "Widget" || a["FT"] != nil {
		ft, name := fieldOf(df.b, a)
		if ft == "Sig" {
			df.add(Modification{Kind: ModSigFieldAdded, Page: n, Field: name, Object: r.Num, Detail: "signature field added"})
			return
		}
		df.add(Modification{Kind: ModFieldAdded, Page: n, Field: name, Object: r.Num, CoversContent: df.covers(p, a), Detail: fmt.Sprintf("form field widget (%s) added", ft)})
		return
	}
	df.add(Modification{Kind: ModAnnotAdded, Page: n, Object: r.Num, CoversContent: df.covers(p, a), Detail: fmt.Sprintf("%s annotation added", st)})
}

func (df *differ) changedAnnot(n int, p pdf.Page, r pdf.Ref) {
	df.accounted[r.Num] = true
	a, _ := df.a.GetDict(r)
	b, _ := df.b.GetDict(r)
	if a == nil || b == nil {
		df.add(Modification{Kind: ModAnnotChanged, Page: n, Object: r.Num, Detail: "annotation replaced by a non-dictionary"})
		return
	}
	st, _ := b["Subtype"].(pdf.Name)
	if st == "Widget" || b["FT"] != nil {
		ft, name := fieldOf(df.b, b)
		if ft == "Sig" {
			if a["V"] == nil && b["V"] != nil {
				df.add(Modification{Kind: ModSigFieldFilled, Page: n, Field: name, Object: r.Num, Detail: "signature field signed"})
				return
			}
			if df.equal(a["V"], b["V"]) {
				df.add(Modification{Kind: ModAnnotChanged, Page: n, Field: name, Object: r.Num, CoversContent: df.covers(p, b), Detail: "signature widget changed"})
				return
			}
			df.add(Modification{Kind: ModSignatureChanged, Page: n, Field: name, Object: r.Num, Detail: "signature value replaced"})
			return
		}
		df.add(Modification{Kind: ModFieldChanged, Page: n, Field: name, Object: r.Num, Detail: "form field widget changed"})
		return
	}
	df.add(Modification{Kind: ModAnnotChanged, Page: n, Object: r.Num, CoversContent: df.covers(p, b), Detail: fmt.Sprintf("%s annotation changed", st)})
}

// covers reports whether annotation a is visible over the page area.
func (df *differ) covers(p pdf.Page, a pdf.Dict) bool {
	if f, ok := pdf.AsInt(a["F"]); ok && f&(2|32) != 0 {
		return false // Hidden or NoView
	}
	st, _ := a["Subtype"].(pdf.Name)
	if a["AP"] == nil && (st == "Link" || st == "Popup" || st == "") {
		return false
	}
	r := rect(a["Rect"])
	box := rect(p.Dict["CropBox"])
	if box == nil {
		box = rect(p.Dict["MediaBox"])
	}
	if r == nil {
		return false
	}
	if box == nil {
		return r[2] > r[0] && r[3] > r[1]
	}
	w := min(r[2], box[2]) - max(r[0], box[0])
	h := min(r[3], box[3]) - max(r[1], box[1])
	return w > 0 && h > 0
}

func rect(o pdf.Object) []float64 {
	a, ok := o.(pdf.Array)
	if !ok || len(a) != 4 {
		return nil
	}
	out := make([]float64, 4)
	for i, e := range a {
		v, ok := pdf.AsNumber(e)
		if !ok {
			return nil
		}
		out[i] = v
	}
	if out[0] > out[2] {
		out[0], out[2] = out[2], out[0]
	}
	if out[1] > out[3] {
		out[1], out[3] = out[3], out[1]
	}
	return out
}

// field is a terminal form field.
type field struct {
	ref  pdf.Ref
	ft   pdf.Name
	dict pdf.Dict
}

func (d *doc) fields(rd *pdf.Reader) (map[string]field, pdf.Dict, pdf.Ref) {
	out := map[string]field{}
	af, afRef, err := rd.AcroForm()
	if err != nil || af == nil {
		return out, af, afRef
	}
	kids, _ := rd.GetArray(af["Fields"])
	seen := map[pdf.Ref]bool{}
	count := 0
	var walk func(o pdf.Object, name string, ft pdf.Name, depth int)
	walk = func(o pdf.Object, name string, ft pdf.Name, depth int) {
		if depth > 32 || count > d.lim.MaxFields {
			return
		}
		count++
		r, _ := o.(pdf.Ref)
		if r != (pdf.Ref{}) {
			if seen[r] {
				return
			}
			seen[r] = true
		}
		f, _ := rd.GetDict(o)
		if f == nil {
			return
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
		ks, _ := rd.GetArray(f["Kids"])
		hasFieldKids := false
		for _, k := range ks {
			if kd, _ := rd.GetDict(k); kd != nil && kd["T"] != nil {
				hasFieldKids = true
			}
		}
		if hasFieldKids {
			for _, k := range ks {
				walk(k, name, ft, depth+1)
			}
			return
		}
		if _, dup := out[name]; !dup {
			out[name] = field{ref: r, ft: ft, dict: f}
		}
	}
	for _, k := range kids {
		walk(k, "", "", 0)
	}
	return out, af, afRef
}

func (df *differ) form() {
	fa, afa, afRefA := df.d.fields(df.a)
	fb, afb, _ := df.d.fields(df.b)
	if afRefA != (pdf.Ref{}) && df.overridden[afRefA.Num] {
		df.accounted[afRefA.Num] = true
	}
	if r, ok := afa["Fields"].(pdf.Ref); ok && df.overridden[r.Num] {
		df.accounted[r.Num] = true
	}
	for k := range union(afa, afb) {
		switch k {
		case "Fields", "SigFlags", "DR", "DA":
			continue
		}
		if !df.equal(afa[k], afb[k]) {
			df.add(Modification{Kind: ModCatalog, Detail: fmt.Sprintf("interactive form /%s changed", k)})
		}
	}
	for name, b := range fb {
		a, ok := fa[name]
		if !ok {
			if b.ft == "Sig" {
				df.add(Modification{Kind: ModSigFieldAdded, Field: name, Object: b.ref.Num, Detail: "signature field added"})
			} else {
				df.add(Modification{Kind: ModFieldAdded, Field: name, Object: b.ref.Num, Detail: "form field added"})
			}
			continue
		}
		df.compareField(name, a, b)
	}
	for name, a := range fa {
		if _, ok := fb[name]; ok {
			continue
		}
		if a.ft == "Sig" && a.dict["V"] != nil {
			df.add(Modification{Kind: ModSignatureRemoved, Field: name, Object: a.ref.Num, Detail: "signed signature field removed"})
		} else {
			df.add(Modification{Kind: ModFieldRemoved, Field: name, Object: a.ref.Num, Detail: "form field removed"})
		}
	}
}

func (df *differ) compareField(name string, a, b field) {
	if a.ref != (pdf.Ref{}) && df.overridden[a.ref.Num] {
		df.accounted[a.ref.Num] = true
	}
	if a.ft == "Sig" {
		// The signature dictionary itself must not change.
		if r, ok := a.dict["V"].(pdf.Ref); ok && df.overridden[r.Num] {
			df.accounted[r.Num] = true
			df.add(Modification{Kind: ModSignatureChanged, Field: name, Object: r.Num, Detail: "signature dictionary redefined"})
		}
		if a.dict["V"] == nil && b.dict["V"] != nil {
			df.add(Modification{Kind: ModSigFieldFilled, Field: name, Object: b.ref.Num, Detail: "signature field signed"})
		} else if !df.equal(a.dict["V"], b.dict["V"]) {
			df.add(Modification{Kind: ModSignatureChanged, Field: name, Object: b.ref.Num, Detail: "signature value replaced"})
		}
		if !df.equal(a.dict["Lock"], b.dict["Lock"]) || !df.equal(a.dict["SV"], b.dict["SV"]) {
			df.add(Modification{Kind: ModFieldChanged, Field: name, Object: b.ref.Num, Detail: "signature field lock changed"})
		}
		return
	}
	if r, ok := a.dict["V"].(pdf.Ref); ok && df.overridden[r.Num] {
		df.accounted[r.Num] = true
		df.add(Modification{Kind: ModFieldChanged, Field: name, Object: r.Num, Detail: "field value redefined"})
	}
	for k := range union(a.dict, b.dict) {
		switch k {
		case "AP", "AS", "MK", "Parent", "P", "Kids":
			continue
		}
		if !df.equal(a.dict[k], b.dict[k]) {
			df.add(Modification{Kind: ModFieldChanged, Field: name, Object: b.ref.Num, Detail: fmt.Sprintf("field /%s changed", k)})
		}
	}
}

// leftovers classifies the redefined objects no check above accounted
// for, by where they are reachable from the catalog of a.
func (df *differ) leftovers() {
	var left []uint32
	for n := range df.overridden {
		if !df.accounted[n] {
			left = append(left, n)
		}
	}
	if len(left) == 0 {
		return
	}
	sort.Slice(left, func(i, j int) bool { return left[i] < left[j] })
	where, err := df.reach(left)
	if err != nil {
		df.add(Modification{Kind: ModUnreadable, Detail: "modification analysis: " + err.Error()})
	}
	for _, n := range left {
		w, ok := where[n]
		if !ok {
			continue // not reachable: not part of the document
		}
		switch {
		case w.page > 0:
			df.add(Modification{Kind: ModPageContent, Page: w.page, Object: n, Detail: "object used by the page redefined: " + w.path})
		case w.area == "Outlines":
			df.add(Modification{Kind: ModOutline, Object: n, Detail: "outline object redefined: " + w.path})
		case w.area == "AcroForm":
			df.add(Modification{Kind: ModFieldChanged, Object: n, Detail: "form object redefined: " + w.path})
		case w.area == "DSS" || w.area == "Metadata":
		default:
			df.add(Modification{Kind: ModOverridden, Object: n, Detail: "object redefined: " + w.path})
		}
	}
}

type place struct {
	page int
	area string
	path string
}

// reach walks the object graph of a from the catalog (bounded by
// Limits.MaxObjects) and returns where each wanted object is reachable.
func (df *differ) reach(want []uint32) (map[uint32]place, error) {
	wanted := map[uint32]bool{}
	for _, n := range want {
		wanted[n] = true
	}
	out := map[uint32]place{}
	type item struct {
		o  pdf.Object
		at place
	}
	seen := map[uint32]bool{}
	queue := []item{{df.a.Root(), place{area: "catalog", path: "catalog"}}}
	visits := 0
	for len(queue) > 0 && len(out) < len(wanted) {
		it := queue[0]
		queue = queue[1:]
		o := it.o
		at := it.at
		if r, ok := o.(pdf.Ref); ok {
			if seen[r.Num] {
				continue
			}
			seen[r.Num] = true
			if visits++; visits > df.d.lim.MaxObjects {
				return out, fmt.Errorf("more than %d objects", df.d.lim.MaxObjects)
			}
			if n, ok := df.pageIndex[r]; ok {
				at = place{page: n, area: "page", path: fmt.Sprintf("page %d", n)}
			}
			if wanted[r.Num] {
				if _, done := out[r.Num]; !done {
					out[r.Num] = at
				}
			}
			v, err := df.a.Get(r)
			if err != nil {
				continue
			}
			o = v
		}
		var dict pdf.Dict
		switch v := o.(type) {
		case pdf.Dict:
			dict = v
		case *pdf.Stream:
			dict = v.Dict
		case pdf.Array:
			for _, e := range v {
				queue = append(queue, item{e, at})
			}
			continue
		default:
			continue
		}
		for k, e := range dict {
			if k == "Parent" || k == "P" {
				continue
			}
			next := at
			if at.area == "catalog" && at.path == "catalog" {
				next = place{area: string(k), path: "catalog /" + string(k)}
			} else if at.page == 0 {
				next.path = at.path + " /" + string(k)
			}
			queue = append(queue, item{e, next})
		}
	}
	return out, nil
}

// pageNodes compares the intermediate nodes of the page tree of a that b
// redefines: only /Kids, /Count and /Parent may change (the page list is
// compared on its own); inherited attributes may not.
func (df *differ) pageNodes() {
	cat, _ := df.a.Catalog()
	root, ok := cat["Pages"].(pdf.Ref)
	if !ok {
		return
	}
	seen := map[pdf.Ref]bool{}
	queue := []pdf.Ref{root}
	for len(queue) > 0 && len(seen) < df.d.lim.MaxObjects {
		r := queue[0]
		queue = queue[1:]
		if seen[r] {
			continue
		}
		seen[r] = true
		df.pageRefs[r] = true
		na, _ := df.a.GetDict(r)
		if na == nil || na["Type"] == pdf.Name("Page") {
			continue
		}
		kids, _ := df.a.GetArray(na["Kids"])
		if kids == nil {
			continue
		}
		for _, k := range kids {
			if kr, ok := k.(pdf.Ref); ok {
				queue = append(queue, kr)
			}
		}
		if kr, ok := na["Kids"].(pdf.Ref); ok && df.overridden[kr.Num] {
			df.accounted[kr.Num] = true
		}
		if !df.overridden[r.Num] {
			continue
		}
		df.accounted[r.Num] = true
		nb, _ := df.b.GetDict(r)
		for _, k := range []pdf.Name{"Resources", "MediaBox", "CropBox", "Rotate"} {
			if !df.equal(na[k], nb[k]) {
				df.add(Modification{Kind: ModPageContent, Object: r.Num, Detail: fmt.Sprintf("page tree node /%s changed (inherited by its pages)", k)})
			}
		}
	}
}
