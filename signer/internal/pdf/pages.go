package pdf

import "fmt"

// Page is a leaf of the page tree.
type Page struct {
	Ref  Ref // zero when the page is a direct object in its parent's /Kids
	Dict Dict
}

// Pages returns the leaves of the page tree in order. It detects loops in
// /Kids and stops at MaxPages. A kid written as a direct dictionary is
// read (qpdf and poppler accept it); any node that cannot be read is an
// error.
func (rd *Reader) Pages() ([]Page, error) {
	cat, err := rd.Catalog()
	if err != nil {
		return nil, fmt.Errorf("read pages: %w", err)
	}
	root, ok := cat["Pages"].(Ref)
	if !ok {
		return nil, fmt.Errorf("read pages: %w: catalog /Pages is not a reference", ErrMalformed)
	}
	var out []Page
	seen := map[Ref]bool{}
	// walk visits the node r, or, when r is zero, the direct dictionary d
	// (a kid written directly in /Kids, which viewers accept).
	var walk func(r Ref, d Dict, depth int) error
	walk = func(r Ref, d Dict, depth int) error {
		if depth > 64 {
			return fmt.Errorf("%w: page tree deeper than 64", ErrLimit)
		}
		if r != (Ref{}) {
			if seen[r] {
				return fmt.Errorf("%w: loop in the page tree at %v", ErrMalformed, r)
			}
			seen[r] = true
			var err error
			if d, err = rd.GetDict(r); err != nil {
				return err
			}
			if d == nil {
				return fmt.Errorf("%w: page tree node %v is not a dictionary", ErrMalformed, r)
			}
		}
		kids, hasKids := d["Kids"]
		if d["Type"] == Name("Page") || (!hasKids && d["Type"] != Name("Pages")) {
			if len(out) >= rd.lim.MaxPages {
				return fmt.Errorf("%w: more than %d pages", ErrLimit, rd.lim.MaxPages)
			}
			out = append(out, Page{Ref: r, Dict: d})
			return nil
		}
		ka, err := rd.GetArray(kids)
		if err != nil {
			return err
		}
		for _, k := range ka {
			var err error
			switch k := k.(type) {
			case Ref:
				err = walk(k, nil, depth+1)
			case Dict:
				err = walk(Ref{}, k, depth+1)
			default:
				err = fmt.Errorf("%w: page tree kid is neither a reference nor a dictionary", ErrMalformed)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, nil, 0); err != nil {
		return nil, fmt.Errorf("read pages: %w", err)
	}
	return out, nil
}

// AcroForm returns the interactive form dictionary of the catalog and, when
// it is an indirect object, its reference (zero Ref when direct or absent).
func (rd *Reader) AcroForm() (Dict, Ref, error) {
	cat, err := rd.Catalog()
	if err != nil {
		return nil, Ref{}, err
	}
	af := cat["AcroForm"]
	r, _ := af.(Ref)
	d, err := rd.GetDict(af)
	if err != nil {
		return nil, Ref{}, fmt.Errorf("read /AcroForm: %w", err)
	}
	return d, r, nil
}

// PageAt returns the page of 0-based index i, descending the page tree by
// the /Count of each node instead of reading every page. When the counts
// are wrong it falls back to [Reader.Pages].
func (rd *Reader) PageAt(i int) (Page, error) {
	if p, err := rd.pageByCount(i); err == nil {
		return p, nil
	}
	pages, err := rd.Pages()
	if err != nil {
		return Page{}, err
	}
	if i < 0 || i >= len(pages) {
		return Page{}, fmt.Errorf("%w: page %d of %d", ErrNotFound, i+1, len(pages))
	}
	return pages[i], nil
}

func (rd *Reader) pageByCount(i int) (Page, error) {
	cat, err := rd.Catalog()
	if err != nil {
		return Page{}, err
	}
	node, ok := cat["Pages"].(Ref)
	if !ok || i < 0 {
		return Page{}, ErrMalformed
	}
	seen := map[Ref]bool{}
	for depth := 0; depth <= 64; depth++ {
		if seen[node] {
			return Page{}, ErrMalformed
		}
		seen[node] = true
		d, err := rd.GetDict(node)
		if err != nil || d == nil {
			return Page{}, ErrMalformed
		}
		if d["Type"] == Name("Page") {
			if i != 0 {
				return Page{}, ErrMalformed
			}
			return Page{Ref: node, Dict: d}, nil
		}
		kids, err := rd.GetArray(d["Kids"])
		if err != nil {
			return Page{}, err
		}
		next := Ref{}
		for _, k := range kids {
			kr, ok := k.(Ref)
			if !ok {
				return Page{}, ErrMalformed
			}
			kd, err := rd.GetDict(kr)
			if err != nil || kd == nil {
				return Page{}, ErrMalformed
			}
			n := int64(1)
			if kd["Type"] != Name("Page") {
				if n, ok = AsInt(kd["Count"]); !ok || n < 0 {
					return Page{}, ErrMalformed
				}
			}
			if int64(i) < n {
				next = kr
				break
			}
			i -= int(n)
		}
		if next == (Ref{}) {
			return Page{}, ErrNotFound
		}
		node = next
	}
	return Page{}, ErrLimit
}
