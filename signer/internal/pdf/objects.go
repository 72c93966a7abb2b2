package pdf

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// readObjectAt parses "N G obj ... endobj" at off. depth counts indirect
// lookups (a stream's /Length may be a reference).
func (rd *Reader) readObjectAt(off int64, depth int) (Ref, Object, error) {
	ref, obj, _, err := rd.readObjectEnd(off, depth)
	return ref, obj, err
}

// readObjectEnd is readObjectAt that also returns the offset after the
// last byte the parser looked at (for a stream, after its dictionary).
func (rd *Reader) readObjectEnd(off int64, depth int) (Ref, Object, int64, error) {
	var ref Ref
	var obj Object
	var streamAt int64 = -1
	var end int64
	err := rd.parseAt(off, func(p *parser) error {
		n, ok1 := parseUint(p.keyword())
		g, ok2 := parseUint(p.keyword())
		kw := p.keyword()
		if p.pos >= len(p.b) && !p.eof {
			return errShort
		}
		if !ok1 || !ok2 || string(kw) != "obj" || n > 1<<31 || g > 65535 {
			return fmt.Errorf("%w: no object header at %d", ErrMalformed, off)
		}
		ref = Ref{Num: uint32(n), Gen: uint16(g)}
		o, err := p.object(0)
		if err != nil {
			return err
		}
		obj = o
		end = off + int64(p.pos)
		if _, isDict := o.(Dict); isDict {
			save := p.pos
			ok := p.keywordIs("stream")
			end = off + int64(p.pos)
			if ok {
				// The data starts after the EOL following "stream".
				if p.pos < len(p.b) && p.b[p.pos] == '\r' {
					p.pos++
				}
				if p.pos < len(p.b) && p.b[p.pos] == '\n' {
					p.pos++
				}
				if p.pos >= len(p.b) && !p.eof {
					return errShort
				}
				streamAt = off + int64(p.pos)
			} else {
				p.pos = save
			}
		}
		return nil
	})
	if err != nil {
		return ref, nil, 0, err
	}
	if streamAt >= 0 {
		s := &Stream{Dict: obj.(Dict), Offset: streamAt}
		if err := rd.streamLength(s, depth); err != nil {
			return ref, nil, 0, err
		}
		obj = s
	}
	return ref, obj, end, nil
}

// keywordIs consumes the next keyword if it equals kw.
func (p *parser) keywordIs(kw string) bool {
	save := p.pos
	if string(p.keyword()) == kw {
		return true
	}
	p.pos = save
	return false
}

// streamLength sets s.Length from /Length, checking that "endstream"
// follows; when it does not, it searches for "endstream".
func (rd *Reader) streamLength(s *Stream, depth int) error {
	lo := s.Dict["Length"]
	if r, ok := lo.(Ref); ok {
		if depth >= rd.lim.MaxDepth {
			return fmt.Errorf("%w: references nested deeper than %d", ErrLimit, rd.lim.MaxDepth)
		}
		o, err := rd.get(r, depth+1)
		if err == nil {
			lo = o
		}
	}
	if n, ok := AsInt(lo); ok && n >= 0 && s.Offset+n <= rd.size {
		if rd.endstreamAt(s.Offset + n) {
			s.Length = n
			return nil
		}
	}
	return rd.searchEndstream(s)
}

func (rd *Reader) endstreamAt(off int64) bool {
	buf, err := rd.readAt(off, 32)
	if err != nil {
		return false
	}
	buf = bytes.TrimLeft(buf, "\r\n \t\f\x00")
	return bytes.HasPrefix(buf, []byte("endstream"))
}

func (rd *Reader) searchEndstream(s *Stream) error {
	const chunk = 64 << 10
	kw := []byte("endstream")
	for off := s.Offset; off < rd.size; off += chunk - int64(len(kw)) {
		if off-s.Offset > int64(rd.lim.MaxDecodedSize) {
			return fmt.Errorf("%w: stream at %d without endstream", ErrLimit, s.Offset)
		}
		buf, err := rd.readAt(off, chunk)
		if err != nil {
			return err
		}
		if i := bytes.Index(buf, kw); i >= 0 {
			end := off + int64(i)
			// Drop the EOL before endstream.
			if end > s.Offset {
				b, _ := rd.readAt(end-2, 2)
				if len(b) == 2 && b[1] == '\n' {
					end--
					if b[0] == '\r' && end > s.Offset {
						end--
					}
				} else if len(b) == 2 && b[1] == '\r' {
					end--
				}
			}
			s.Length = end - s.Offset
			return nil
		}
		if off+chunk >= rd.size {
			break
		}
	}
	return fmt.Errorf("%w: stream at %d without endstream", ErrMalformed, s.Offset)
}

// Get returns the object that ref points to. A free or missing object is
// [Null] (as ISO 32000 says), not an error.
func (rd *Reader) Get(ref Ref) (Object, error) { return rd.get(ref, 0) }

func (rd *Reader) get(ref Ref, depth int) (Object, error) {
	if depth > rd.lim.MaxDepth {
		return nil, fmt.Errorf("%w: references nested deeper than %d", ErrLimit, rd.lim.MaxDepth)
	}
	e, ok := rd.xref[ref.Num]
	if !ok || e.typ == entryFree {
		return Null{}, nil
	}
	switch e.typ {
	case entryInUse:
		if obj, ok := rd.cache.lookup(e.off, ref.Num, rd.size); ok {
			return obj, nil
		}
		got, obj, end, err := rd.readObjectEnd(e.off, depth)
		if err != nil {
			return nil, fmt.Errorf("read object %v: %w", ref, err)
		}
		if got.Num != ref.Num {
			return nil, fmt.Errorf("%w: xref entry of object %d points at object %d", ErrMalformed, ref.Num, got.Num)
		}
		rd.cache.store(e.off, ref.Num, obj, end, rd.size)
		return obj, nil
	case entryCompressed:
		os, err := rd.objStream(uint32(e.off), depth+1)
		if err != nil {
			return nil, fmt.Errorf("read object %v: %w", ref, err)
		}
		return os.object(ref.Num, e.idx)
	}
	return Null{}, nil
}

// Resolve follows o while it is a reference.
func (rd *Reader) Resolve(o Object) (Object, error) {
	for i := 0; ; i++ {
		r, ok := o.(Ref)
		if !ok {
			return o, nil
		}
		if i >= rd.lim.MaxDepth {
			return nil, fmt.Errorf("%w: reference chain longer than %d", ErrLimit, rd.lim.MaxDepth)
		}
		var err error
		if o, err = rd.get(r, i); err != nil {
			return nil, err
		}
	}
}

// GetDict resolves o and returns it as a dictionary (a stream's dictionary
// counts), or nil if it is something else.
func (rd *Reader) GetDict(o Object) (Dict, error) {
	v, err := rd.Resolve(o)
	if err != nil {
		return nil, err
	}
	switch d := v.(type) {
	case Dict:
		return d, nil
	case *Stream:
		return d.Dict, nil
	}
	return nil, nil
}

// GetArray resolves o and returns it as an array, or nil.
func (rd *Reader) GetArray(o Object) (Array, error) {
	v, err := rd.Resolve(o)
	if err != nil {
		return nil, err
	}
	a, _ := v.(Array)
	return a, nil
}

// StreamReader returns the encoded data of s.
func (rd *Reader) StreamReader(s *Stream) io.Reader {
	if s.data != nil {
		return bytes.NewReader(s.data)
	}
	return io.NewSectionReader(rd.r, s.Offset, s.Length)
}

// StreamData returns the decoded data of s (FlateDecode, with PNG
// predictors, or no filter), at most MaxDecodedSize bytes.
func (rd *Reader) StreamData(s *Stream) ([]byte, error) {
	return rd.decodeStream(s, 0, rd.lim.MaxDecodedSize)
}

// RawStreamData returns the encoded data of s, at most MaxDecodedSize bytes.
func (rd *Reader) RawStreamData(s *Stream) ([]byte, error) {
	return rd.rawStreamData(s, rd.lim.MaxDecodedSize)
}

func (rd *Reader) rawStreamData(s *Stream, limit int) ([]byte, error) {
	if s.Length > int64(limit) {
		return nil, fmt.Errorf("%w: stream of %d bytes", ErrLimit, s.Length)
	}
	return io.ReadAll(rd.StreamReader(s))
}

// decodeStream decodes s, refusing with ErrLimit a result over limit bytes
// before holding more than limit+1 of them.
func (rd *Reader) decodeStream(s *Stream, depth, limit int) ([]byte, error) {
	filters, parms, err := rd.filters(s.Dict, depth)
	if err != nil {
		return nil, err
	}
	raw, err := rd.rawStreamData(s, limit)
	if err != nil {
		return nil, err
	}
	data := raw
	for i, f := range filters {
		switch f {
		case "FlateDecode", "Fl":
			zr, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				return nil, fmt.Errorf("%w: flate: %v", ErrMalformed, err)
			}
			out, err := readAtMost(zr, limit)
			if errors.Is(err, ErrLimit) {
				return nil, err
			}
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%w: flate: %v", ErrMalformed, err)
			}
			data, err = unpredict(out, parms[i])
			if err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: filter %s", ErrUnsupported, f)
		}
	}
	return data, nil
}

// readAtMost reads r to its end, refusing with ErrLimit input over limit
// bytes once it has read limit+1 of them. It reads into chunks and copies
// them once, so it allocates about twice what it returns, and about limit
// bytes when it refuses (io.ReadAll's growth by append allocates up to
// five times). With the data read so far it returns the reader's error,
// io.EOF excepted.
func readAtMost(r io.Reader, limit int) ([]byte, error) {
	var chunks [][]byte
	total, size := 0, 4096
	var rerr error
	for rerr == nil {
		if size > limit+1-total {
			size = limit + 1 - total
		}
		buf := make([]byte, size)
		n, err := io.ReadFull(r, buf)
		chunks, total = append(chunks, buf[:n]), total+n
		switch {
		case total > limit:
			return nil, fmt.Errorf("%w: decoded stream over %d bytes", ErrLimit, limit)
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			// io.ReadFull reports a short last chunk as ErrUnexpectedEOF;
			// a truncated flate stream yields what it decoded, as before.
			rerr = io.EOF
		case err != nil:
			rerr = err
		}
		if size < 1<<20 {
			size *= 2
		}
	}
	out := make([]byte, 0, total)
	for _, c := range chunks {
		out = append(out, c...)
	}
	if rerr == io.EOF {
		rerr = nil
	}
	return out, rerr
}

func (rd *Reader) filters(d Dict, depth int) ([]Name, []Dict, error) {
	fo, err := rd.Resolve(d["Filter"])
	if err != nil {
		return nil, nil, err
	}
	po, _ := rd.Resolve(d["DecodeParms"])
	var fs []Name
	var ps []Dict
	switch f := fo.(type) {
	case nil, Null:
	case Name:
		fs = []Name{f}
		pd, _ := po.(Dict)
		ps = []Dict{pd}
	case Array:
		pa, _ := po.(Array)
		for i, e := range f {
			n, ok := e.(Name)
			if !ok {
				return nil, nil, fmt.Errorf("%w: /Filter", ErrMalformed)
			}
			fs = append(fs, n)
			var pd Dict
			if i < len(pa) {
				pd, _ = pa[i].(Dict)
			}
			ps = append(ps, pd)
		}
	default:
		return nil, nil, fmt.Errorf("%w: /Filter", ErrMalformed)
	}
	return fs, ps, nil
}

// unpredict undoes PNG predictors (/Predictor >= 10) and TIFF predictor 1.
func unpredict(data []byte, parms Dict) ([]byte, error) {
	pred, _ := AsInt(parms["Predictor"])
	if pred < 10 {
		return data, nil
	}
	cols, ok := AsInt(parms["Columns"])
	if !ok {
		cols = 1
	}
	colors, ok := AsInt(parms["Colors"])
	if !ok {
		colors = 1
	}
	bpc, ok := AsInt(parms["BitsPerComponent"])
	if !ok {
		bpc = 8
	}
	if cols <= 0 || cols > 1<<20 || colors <= 0 || colors > 32 || bpc <= 0 || bpc > 16 {
		return nil, fmt.Errorf("%w: predictor parameters", ErrMalformed)
	}
	bpp := int((colors*bpc + 7) / 8)
	rowLen := int((cols*colors*bpc + 7) / 8)
	if rowLen > len(data) {
		return nil, fmt.Errorf("%w: predictor row of %d bytes in %d bytes of data", ErrMalformed, rowLen, len(data))
	}
	out := make([]byte, 0, len(data))
	prev := make([]byte, rowLen)
	for pos := 0; pos+1 <= len(data); pos += rowLen + 1 {
		ft := data[pos]
		end := pos + 1 + rowLen
		if end > len(data) {
			end = len(data)
		}
		row := make([]byte, rowLen)
		copy(row, data[pos+1:end])
		for i := 0; i < rowLen; i++ {
			var a, b, c byte
			if i >= bpp {
				a = row[i-bpp]
				c = prev[i-bpp]
			}
			b = prev[i]
			switch ft {
			case 0:
			case 1:
				row[i] += a
			case 2:
				row[i] += b
			case 3:
				row[i] += byte((int(a) + int(b)) / 2)
			case 4:
				row[i] += paeth(a, b, c)
			default:
				return nil, fmt.Errorf("%w: PNG filter type %d", ErrMalformed, ft)
			}
		}
		out = append(out, row...)
		prev = row
	}
	return out, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// objStream is a decoded object stream.
type objStream struct {
	data  []byte
	first int
	nums  []uint32
	offs  []int
}

func (rd *Reader) objStream(num uint32, depth int) (*objStream, error) {
	rd.mu.Lock()
	os, ok := rd.objstm[num]
	rd.mu.Unlock()
	if ok {
		if os == nil {
			return nil, fmt.Errorf("%w: object stream %d contains itself", ErrMalformed, num)
		}
		return os, nil
	}
	rd.mu.Lock()
	rd.objstm[num] = nil // in progress: loop guard
	rd.mu.Unlock()
	os, err := rd.loadObjStream(num, depth)
	rd.mu.Lock()
	if err != nil {
		delete(rd.objstm, num)
	} else {
		rd.objstm[num] = os
	}
	rd.mu.Unlock()
	return os, err
}

func (rd *Reader) loadObjStream(num uint32, depth int) (*objStream, error) {
	e, ok := rd.xref[num]
	if !ok || e.typ != entryInUse {
		return nil, fmt.Errorf("%w: object stream %d", ErrNotFound, num)
	}
	_, o, err := rd.readObjectAt(e.off, depth)
	if err != nil {
		return nil, err
	}
	s, ok := o.(*Stream)
	if !ok {
		return nil, fmt.Errorf("%w: object %d is not an object stream", ErrMalformed, num)
	}
	return rd.parseObjStream(s, depth)
}

func (rd *Reader) parseObjStream(s *Stream, depth int) (*objStream, error) {
	data, err := rd.decodeStream(s, depth, rd.lim.MaxIndexSize)
	if err != nil {
		return nil, fmt.Errorf("object stream: %w", err)
	}
	n, _ := AsInt(s.Dict["N"])
	first, _ := AsInt(s.Dict["First"])
	if n < 0 || n > int64(rd.lim.MaxObjects) || first < 0 || first > int64(len(data)) {
		return nil, fmt.Errorf("%w: object stream /N or /First", ErrMalformed)
	}
	os := &objStream{data: data, first: int(first)}
	p := &parser{b: data[:first], eof: true}
	for i := int64(0); i < n; i++ {
		on, ok1 := parseUint(p.keyword())
		oo, ok2 := parseUint(p.keyword())
		if !ok1 || !ok2 || on > 1<<31 {
			return nil, fmt.Errorf("%w: object stream header", ErrMalformed)
		}
		os.nums = append(os.nums, uint32(on))
		os.offs = append(os.offs, int(oo))
	}
	return os, nil
}

func (os *objStream) object(num, idx uint32) (Object, error) {
	i := int(idx)
	if i >= len(os.nums) || os.nums[i] != num {
		// Some writers get the index wrong; look the number up.
		i = -1
		for j, n := range os.nums {
			if n == num {
				i = j
				break
			}
		}
		if i < 0 {
			return Null{}, nil
		}
	}
	start := os.first + os.offs[i]
	if start < 0 || start > len(os.data) {
		return nil, fmt.Errorf("%w: object %d offset in object stream", ErrMalformed, num)
	}
	p := &parser{b: os.data[start:], eof: true}
	o, err := p.object(0)
	if err != nil {
		return nil, fmt.Errorf("%w: object %d in object stream: %v", ErrMalformed, num, err)
	}
	return o, nil
}
