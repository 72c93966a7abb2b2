package pdf

import (
	"bytes"
	"fmt"
)

// findStartXref returns the offset after the last "startxref" keyword.
func (rd *Reader) findStartXref() (int64, error) {
	n := int64(2048)
	if n > rd.size {
		n = rd.size
	}
	tail, err := rd.readAt(rd.size-n, int(n))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return 0, fmt.Errorf("%w: no startxref", ErrMalformed)
	}
	p := &parser{b: tail[i+len("startxref"):], eof: true}
	v, ok := parseUint(p.keyword())
	if !ok {
		return 0, fmt.Errorf("%w: bad startxref value", ErrMalformed)
	}
	return v, nil
}

func (rd *Reader) readXref() error {
	off, err := rd.findStartXref()
	if err != nil {
		return err
	}
	rd.start = off
	seen := map[int64]bool{}
	first := true
	for off != 0 || first {
		if seen[off] {
			return fmt.Errorf("%w: loop in xref /Prev chain at %d", ErrMalformed, off)
		}
		if len(seen) >= rd.lim.MaxXrefChain {
			return fmt.Errorf("%w: more than %d xref sections", ErrLimit, rd.lim.MaxXrefChain)
		}
		seen[off] = true
		rd.secs = append(rd.secs, off)
		trailer, kind, err := rd.readSection(off)
		if err != nil {
			return fmt.Errorf("read xref section at %d: %w", off, err)
		}
		if first {
			rd.trail, rd.kind = trailer, kind
			if _, ok := trailer["Encrypt"]; ok {
				return ErrEncrypted
			}
		}
		first = false
		prev, ok := AsInt(trailer["Prev"])
		if !ok || prev <= 0 {
			break
		}
		off = prev
	}
	return nil
}

// readSection reads the xref section at off (table or stream) and adds its
// entries that newer sections did not define.
func (rd *Reader) readSection(off int64) (Dict, XrefKind, error) {
	head, err := rd.readAt(off, 32)
	if err != nil {
		return nil, 0, err
	}
	p := &parser{b: head}
	p.skipSpace()
	if bytes.HasPrefix(head[p.pos:], []byte("xref")) {
		t, err := rd.readTable(off + int64(p.pos) + 4)
		if err != nil {
			return nil, 0, err
		}
		// Hybrid file: the table's /XRefStm lists the compressed objects.
		if xs, ok := AsInt(t["XRefStm"]); ok && xs > 0 {
			if _, err := rd.readXrefStream(xs, false); err != nil {
				return nil, 0, fmt.Errorf("read /XRefStm: %w", err)
			}
		}
		return t, XrefTable, nil
	}
	d, err := rd.readXrefStream(off, true)
	return d, XrefStream, err
}

func (rd *Reader) add(num uint32, e entry) error {
	if _, ok := rd.xref[num]; ok {
		return nil // a newer section defined it
	}
	if len(rd.xref) >= rd.lim.MaxObjects {
		return fmt.Errorf("%w: more than %d objects", ErrLimit, rd.lim.MaxObjects)
	}
	rd.xref[num] = e
	return nil
}

func (rd *Reader) readTable(off int64) (Dict, error) {
	var trailer Dict
	err := rd.parseAt(off, func(p *parser) error {
		for {
			save := p.pos
			k := p.keyword()
			if string(k) == "trailer" {
				o, err := p.object(0)
				if err != nil {
					return err
				}
				d, ok := o.(Dict)
				if !ok {
					return fmt.Errorf("%w: trailer is not a dictionary", ErrMalformed)
				}
				trailer = d
				return nil
			}
			start, ok1 := parseUint(k)
			cnt, ok2 := parseUint(p.keyword())
			if !ok1 || !ok2 {
				if p.pos >= len(p.b) && !p.eof {
					return errShort
				}
				p.pos = save
				return fmt.Errorf("%w: bad xref subsection header", ErrMalformed)
			}
			if cnt > int64(rd.lim.MaxObjects) || start > int64(rd.lim.MaxObjects) {
				return fmt.Errorf("%w: xref subsection of %d entries", ErrLimit, cnt)
			}
			for i := int64(0); i < cnt; i++ {
				o, ok1 := parseUint(p.keyword())
				g, ok2 := parseUint(p.keyword())
				t := p.keyword()
				if p.pos >= len(p.b) && !p.eof {
					return errShort
				}
				if !ok1 || !ok2 || len(t) != 1 || (t[0] != 'n' && t[0] != 'f') {
					return fmt.Errorf("%w: bad xref entry", ErrMalformed)
				}
				num := uint32(start + i)
				if t[0] == 'f' {
					if err := rd.add(num, entry{typ: entryFree}); err != nil {
						return err
					}
					continue
				}
				if o <= 0 || o >= rd.size {
					// Tolerated: some writers put 0 offsets on in-use
					// entries; such objects read as missing.
					if err := rd.add(num, entry{typ: entryFree}); err != nil {
						return err
					}
					continue
				}
				if err := rd.add(num, entry{typ: entryInUse, gen: uint16(g), off: o}); err != nil {
					return err
				}
			}
		}
	})
	return trailer, err
}

// readXrefStream reads the xref stream object at off. When asTrailer is
// false (hybrid /XRefStm), its entries only fill gaps.
func (rd *Reader) readXrefStream(off int64, asTrailer bool) (Dict, error) {
	_, obj, err := rd.readObjectAt(off, 0)
	if err != nil {
		return nil, err
	}
	s, ok := obj.(*Stream)
	if !ok || s.Dict["Type"] != Name("XRef") {
		return nil, fmt.Errorf("%w: no xref stream at %d", ErrMalformed, off)
	}
	data, err := rd.decodeStream(s, 0, rd.lim.MaxIndexSize)
	if err != nil {
		return nil, fmt.Errorf("xref stream: %w", err)
	}
	wa, _ := s.Dict["W"].(Array)
	if len(wa) != 3 {
		return nil, fmt.Errorf("%w: xref stream /W", ErrMalformed)
	}
	var w [3]int
	rowLen := 0
	for i := range w {
		v, ok := AsInt(wa[i])
		if !ok || v < 0 || v > 8 {
			return nil, fmt.Errorf("%w: xref stream /W", ErrMalformed)
		}
		w[i] = int(v)
		rowLen += w[i]
	}
	if rowLen == 0 {
		return nil, fmt.Errorf("%w: xref stream /W", ErrMalformed)
	}
	size, _ := AsInt(s.Dict["Size"])
	index := []int64{0, size}
	if ia, ok := s.Dict["Index"].(Array); ok {
		index = index[:0]
		for _, v := range ia {
			n, ok := AsInt(v)
			if !ok || n < 0 {
				return nil, fmt.Errorf("%w: xref stream /Index", ErrMalformed)
			}
			index = append(index, n)
		}
		if len(index)%2 != 0 {
			return nil, fmt.Errorf("%w: xref stream /Index", ErrMalformed)
		}
	}
	field := func(b []byte, def uint64) uint64 {
		if len(b) == 0 {
			return def
		}
		var v uint64
		for _, c := range b {
			v = v<<8 | uint64(c)
		}
		return v
	}
	pos := 0
	for i := 0; i < len(index); i += 2 {
		start, cnt := index[i], index[i+1]
		if cnt > int64(rd.lim.MaxObjects) || start > int64(rd.lim.MaxObjects) {
			return nil, fmt.Errorf("%w: xref stream of %d entries", ErrLimit, cnt)
		}
		for j := int64(0); j < cnt; j++ {
			if pos+rowLen > len(data) {
				return nil, fmt.Errorf("%w: xref stream shorter than /Index says", ErrMalformed)
			}
			row := data[pos : pos+rowLen]
			pos += rowLen
			t := field(row[:w[0]], 1)
			f2 := field(row[w[0]:w[0]+w[1]], 0)
			f3 := field(row[w[0]+w[1]:], 0)
			num := uint32(start + j)
			var e entry
			switch t {
			case 0:
				e = entry{typ: entryFree}
			case 1:
				if f2 >= uint64(rd.size) || f2 == 0 {
					e = entry{typ: entryFree}
				} else {
					e = entry{typ: entryInUse, off: int64(f2), gen: uint16(f3)}
				}
			case 2:
				e = entry{typ: entryCompressed, off: int64(f2), idx: uint32(f3)}
			default:
				continue // reserved types read as null
			}
			if !asTrailer {
				if old, ok := rd.xref[num]; ok && old.typ == entryFree {
					rd.xref[num] = e
					continue
				}
			}
			if err := rd.add(num, e); err != nil {
				return nil, err
			}
		}
	}
	return s.Dict, nil
}
