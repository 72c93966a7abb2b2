package pdf

import (
	"bytes"
	"fmt"
)

// recover rebuilds the xref by scanning the whole file for "N G obj"
// headers (a later definition of a number wins) and takes the trailer from
// the last "trailer" dictionary or xref stream that names a /Root, or else
// from the last object of /Type /Catalog.
func (rd *Reader) recover() error {
	const chunk = 1 << 20
	const overlap = 64
	var trailers []int64
	for base := int64(0); base < rd.size; base += chunk - overlap {
		buf, err := rd.readAt(base, chunk)
		if err != nil {
			return fmt.Errorf("recover xref: %w", err)
		}
		limit := len(buf)
		if base+int64(len(buf)) < rd.size {
			limit = len(buf) - overlap
		}
		for i := 0; i < limit; {
			j := bytes.Index(buf[i:limit], []byte("obj"))
			k := bytes.Index(buf[i:limit], []byte("trailer"))
			if j < 0 && k < 0 {
				break
			}
			if k >= 0 && (j < 0 || k < j) {
				trailers = append(trailers, base+int64(i+k+len("trailer")))
				i += k + len("trailer")
				continue
			}
			at := i + j
			i = at + 3
			if at+3 < len(buf) && isRegular(buf[at+3]) {
				continue
			}
			if num, gen, start, ok := objHeaderBefore(buf, at); ok {
				if _, dup := rd.xref[num]; !dup && len(rd.xref) >= rd.lim.MaxObjects {
					return fmt.Errorf("recover xref: %w: more than %d objects", ErrLimit, rd.lim.MaxObjects)
				}
				rd.xref[num] = entry{typ: entryInUse, gen: gen, off: base + int64(start)}
			}
		}
		if base+int64(len(buf)) >= rd.size {
			break
		}
	}
	if len(rd.xref) == 0 {
		return fmt.Errorf("recover xref: %w: no objects found", ErrMalformed)
	}
	rd.recoverObjStreams()
	for i := len(trailers) - 1; i >= 0; i-- {
		var d Dict
		err := rd.parseAt(trailers[i], func(p *parser) error {
			o, err := p.object(0)
			d, _ = o.(Dict)
			return err
		})
		if err == nil && d != nil {
			if _, ok := d["Root"].(Ref); ok {
				rd.trail = d
				return nil
			}
			if _, ok := d["Encrypt"]; ok {
				return ErrEncrypted
			}
		}
	}
	var catalog Ref
	var found bool
	var xrefStm Dict
	var xrefOff int64 = -1
	for num, e := range rd.xref {
		if e.typ != entryInUse {
			continue
		}
		_, o, err := rd.readObjectAt(e.off, 0)
		if err != nil {
			continue
		}
		d, _ := o.(Dict)
		if s, ok := o.(*Stream); ok {
			d = s.Dict
			if d["Type"] == Name("XRef") && e.off > xrefOff {
				if _, ok := d["Root"].(Ref); ok {
					xrefStm, xrefOff = d, e.off
				}
			}
		}
		if d != nil && d["Type"] == Name("Catalog") && (!found || num > catalog.Num) {
			catalog, found = Ref{Num: num, Gen: e.gen}, true
		}
	}
	if xrefStm != nil {
		rd.trail = xrefStm
		return nil
	}
	if !found {
		return fmt.Errorf("recover xref: %w: no trailer and no catalog", ErrMalformed)
	}
	rd.trail = Dict{"Root": catalog, "Size": Int(rd.MaxObjectNumber())}
	return nil
}

// recoverObjStreams adds the objects of object streams found by the scan,
// when the scan found no direct definition of them.
func (rd *Reader) recoverObjStreams() {
	direct := make([]uint32, 0, len(rd.xref))
	for num := range rd.xref {
		direct = append(direct, num)
	}
	for _, num := range direct {
		e := rd.xref[num]
		_, o, err := rd.readObjectAt(e.off, 0)
		if err != nil {
			continue
		}
		s, ok := o.(*Stream)
		if !ok || s.Dict["Type"] != Name("ObjStm") {
			continue
		}
		os, err := rd.parseObjStream(s, 0)
		if err != nil {
			continue
		}
		for i, n := range os.nums {
			if _, ok := rd.xref[n]; !ok && len(rd.xref) < rd.lim.MaxObjects {
				rd.xref[n] = entry{typ: entryCompressed, off: int64(num), idx: uint32(i)}
			}
		}
	}
}

// objHeaderBefore parses "N G " ending just before buf[at] ("obj"), and
// returns the number, generation and the offset where N starts.
func objHeaderBefore(buf []byte, at int) (uint32, uint16, int, bool) {
	i := at
	skipWhite := func() bool {
		s := i
		for i > 0 && isWhite(buf[i-1]) {
			i--
		}
		return i < s
	}
	digits := func() (int64, bool) {
		e := i
		for i > 0 && buf[i-1] >= '0' && buf[i-1] <= '9' && e-i < 10 {
			i--
		}
		return parseUint(buf[i:e])
	}
	skipWhite()
	g, ok := digits()
	if !ok || g > 65535 {
		return 0, 0, 0, false
	}
	if !skipWhite() {
		return 0, 0, 0, false
	}
	n, ok := digits()
	if !ok || n > 1<<31 {
		return 0, 0, 0, false
	}
	if i > 0 && isRegular(buf[i-1]) {
		return 0, 0, 0, false
	}
	return uint32(n), uint16(g), i, true
}
