package pdf

import "fmt"

// Page is a leaf of the page tree.
type Page struct {
	Ref  Ref
	Dict Dict
}

// Pages returns the leaves of the page tree in order. It detects loops in
// /Kids and stops at MaxPages.
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
	var walk func(r Ref, depth int) error
	walk = func(r Ref, depth int) error {
		if seen[r] {
			return fmt.Errorf("%w: loop in the page tree at %v", ErrMalformed, r)
		}
		if depth > 64 {
			return fmt.Errorf("%w: page tree deeper than 64", ErrLimit)
		}
		seen[r] = true
		d, err := rd.GetDict(r)
		if err != nil {
			return err
		}
		if d == nil {
			return fmt.Errorf("%w: page tree node %v is not a dictionary", ErrMalformed, r)
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
			kr, ok := k.(Ref)
			if !ok {
				return fmt.Errorf("%w: page tree kid is not a reference", ErrMalformed)
			}
			if err := walk(kr, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, 0); err != nil {
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
