package signer

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// rawObject is an object written verbatim (used for signature dictionaries,
// whose /ByteRange and /Contents are patched in place).
type rawObject []byte

// update collects the objects of one incremental update to the document
// read by rd and serialises them with an xref section of the same kind as
// the file's newest one.
type update struct {
	rd    *pdf.Reader
	next  uint32
	order []uint32
	objs  map[uint32]any // pdf.Object or rawObject
	gens  map[uint32]uint16
	root  pdf.Ref
}

func newUpdate(rd *pdf.Reader) *update {
	return &update{rd: rd, next: rd.MaxObjectNumber(), objs: map[uint32]any{}, gens: map[uint32]uint16{}, root: rd.Root()}
}

// add allocates a new object number for o.
func (u *update) add(o any) pdf.Ref {
	r := pdf.Ref{Num: u.next}
	u.next++
	u.set(r, o)
	return r
}

// reserve allocates a number to be set later.
func (u *update) reserve() pdf.Ref {
	r := pdf.Ref{Num: u.next}
	u.next++
	return r
}

// set writes o as object r (replacing it when it exists).
func (u *update) set(r pdf.Ref, o any) {
	if _, ok := u.objs[r.Num]; !ok {
		u.order = append(u.order, r.Num)
	}
	u.objs[r.Num] = o
	u.gens[r.Num] = r.Gen
}

// bytes serialises the update, to be appended at offset base (the size of
// the document so far). It starts with an end-of-line when the document
// does not end with one.
func (u *update) bytes(base int64, needEOL bool) []byte {
	var b []byte
	if needEOL {
		b = append(b, '\n')
	}
	offs := map[uint32]int64{}
	for _, num := range u.order {
		offs[num] = base + int64(len(b))
		b = strconv.AppendUint(b, uint64(num), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(u.gens[num]), 10)
		b = append(b, " obj\n"...)
		switch o := u.objs[num].(type) {
		case rawObject:
			b = append(b, o...)
		default:
			b = pdf.AppendObject(b, o)
		}
		b = append(b, "\nendobj\n"...)
	}
	tr := pdf.Dict{"Size": pdf.Int(u.next), "Root": u.root, "Prev": pdf.Int(u.rd.StartXref())}
	old := u.rd.Trailer()
	for _, k := range []pdf.Name{"Info", "ID"} {
		if v, ok := old[k]; ok {
			tr[k] = v
		}
	}
	if u.rd.Recovered() {
		// The file's own xref is unusable: this section lists every
		// object, as found by the reader's scan, and has no /Prev. A
		// document that declares a version before 1.5 and has no object
		// streams gets a table: xref streams came with PDF 1.5 (and
		// PDF/A-1, on 1.4, forbids them).
		delete(tr, "Prev")
		if !xrefStreamsAllowed(u.rd) {
			return u.fullXrefTable(b, base, offs, tr)
		}
		return u.fullXrefStream(b, base, offs, tr)
	}
	if u.rd.XrefKind() == pdf.XrefStream {
		return u.xrefStream(b, base, offs, tr)
	}
	return u.xrefTable(b, base, offs, tr)
}

// fullXrefStream writes an xref stream listing the update's objects and
// every in-use object of the file.
func (u *update) fullXrefStream(b []byte, base int64, offs map[uint32]int64, tr pdf.Dict) []byte {
	self, start := u.reserveXrefStream(b, base, offs, tr)
	rows := map[uint32][3]uint64{}
	for _, n := range u.rd.ObjectNumbers() {
		e := u.rd.Entry(n)
		if e.Compressed {
			rows[n] = [3]uint64{2, uint64(e.Offset), uint64(e.Index)}
		} else {
			rows[n] = [3]uint64{1, uint64(e.Offset), uint64(e.Gen)}
		}
	}
	for n, off := range offs {
		rows[n] = [3]uint64{1, uint64(off), uint64(u.gens[n])}
	}
	nums := make([]uint32, 0, len(rows))
	for n := range rows {
		nums = append(nums, n)
	}
	return u.writeXrefStream(b, self, start, nums, rows, tr)
}

// xrefStreamsAllowed reports whether a complete xref section may be a
// stream: the document declares PDF 1.5 or later (header, or catalog
// /Version) or already keeps objects in object streams, which a table
// cannot describe.
func xrefStreamsAllowed(rd *pdf.Reader) bool {
	v := rd.Header()
	if cat, err := rd.Catalog(); err == nil {
		if n, ok := cat["Version"].(pdf.Name); ok && string(n) > v {
			v = string(n)
		}
	}
	if v >= "1.5" {
		return true
	}
	for _, n := range rd.ObjectNumbers() {
		if rd.Entry(n).Compressed {
			return true
		}
	}
	return false
}

// fullXrefTable writes a classic xref table listing the update's objects
// and every in-use object of the file, object 0 heading the free list.
func (u *update) fullXrefTable(b []byte, base int64, offs map[uint32]int64, tr pdf.Dict) []byte {
	start := base + int64(len(b))
	type row struct {
		off int64
		gen uint16
	}
	rows := map[uint32]row{}
	for _, n := range u.rd.ObjectNumbers() {
		if e := u.rd.Entry(n); n != 0 {
			rows[n] = row{e.Offset, e.Gen}
		}
	}
	for n, off := range offs {
		rows[n] = row{off, u.gens[n]}
	}
	nums := []uint32{0}
	for n := range rows {
		nums = append(nums, n)
	}
	b = append(b, "xref\n"...)
	for _, run := range subsections(nums) {
		b = fmt.Appendf(b, "%d %d\n", run[0], len(run))
		for _, n := range run {
			if n == 0 {
				b = append(b, "0000000000 65535 f \n"...)
				continue
			}
			b = fmt.Appendf(b, "%010d %05d n \n", rows[n].off, rows[n].gen)
		}
	}
	b = append(b, "trailer\n"...)
	b = pdf.AppendObject(b, tr)
	return fmt.Appendf(b, "\nstartxref\n%d\n%%%%EOF\n", start)
}

// subsections groups sorted object numbers into runs of consecutive ones.
func subsections(nums []uint32) [][]uint32 {
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	var out [][]uint32
	for i, n := range nums {
		if i == 0 || n != nums[i-1]+1 {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], n)
	}
	return out
}

func (u *update) xrefTable(b []byte, base int64, offs map[uint32]int64, tr pdf.Dict) []byte {
	start := base + int64(len(b))
	nums := append([]uint32(nil), u.order...)
	b = append(b, "xref\n"...)
	for _, run := range subsections(nums) {
		b = fmt.Appendf(b, "%d %d\n", run[0], len(run))
		for _, n := range run {
			b = fmt.Appendf(b, "%010d %05d n \n", offs[n], u.gens[n])
		}
	}
	b = append(b, "trailer\n"...)
	b = pdf.AppendObject(b, tr)
	return fmt.Appendf(b, "\nstartxref\n%d\n%%%%EOF\n", start)
}

// reserveXrefStream numbers the xref stream object, which starts at the
// end of b, and counts it in offs and /Size.
func (u *update) reserveXrefStream(b []byte, base int64, offs map[uint32]int64, tr pdf.Dict) (pdf.Ref, int64) {
	self := u.reserve()
	start := base + int64(len(b))
	offs[self.Num] = start
	u.gens[self.Num] = 0
	tr["Size"] = pdf.Int(u.next)
	return self, start
}

func (u *update) xrefStream(b []byte, base int64, offs map[uint32]int64, tr pdf.Dict) []byte {
	self, start := u.reserveXrefStream(b, base, offs, tr)
	rows := map[uint32][3]uint64{}
	for n, off := range offs {
		rows[n] = [3]uint64{1, uint64(off), uint64(u.gens[n])}
	}
	nums := append(append([]uint32(nil), u.order...), self.Num)
	return u.writeXrefStream(b, self, start, nums, rows, tr)
}

// writeXrefStream writes the xref stream object self at start, with one
// row (type, field 2, field 3) per number of nums.
func (u *update) writeXrefStream(b []byte, self pdf.Ref, start int64, nums []uint32, rows map[uint32][3]uint64, tr pdf.Dict) []byte {
	width := func(v uint64) int {
		w := 1
		for ; v > 0xff; v >>= 8 {
			w++
		}
		return w
	}
	w2, w3 := 1, 2
	for _, r := range rows {
		w2, w3 = max(w2, width(r[1])), max(w3, width(r[2]))
	}
	var index pdf.Array
	var data []byte
	for _, run := range subsections(nums) {
		index = append(index, pdf.Int(run[0]), pdf.Int(len(run)))
		for _, n := range run {
			r := rows[n]
			data = append(data, byte(r[0]))
			for i := w2 - 1; i >= 0; i-- {
				data = append(data, byte(r[1]>>(8*i)))
			}
			for i := w3 - 1; i >= 0; i-- {
				data = append(data, byte(r[2]>>(8*i)))
			}
		}
	}
	tr["Type"] = pdf.Name("XRef")
	tr["W"] = pdf.Array{pdf.Int(1), pdf.Int(w2), pdf.Int(w3)}
	tr["Index"] = index
	b = fmt.Appendf(b, "%d 0 obj\n", self.Num)
	b = pdf.AppendObject(b, pdf.NewStream(tr, data))
	b = append(b, "\nendobj\n"...)
	return fmt.Appendf(b, "startxref\n%d\n%%%%EOF\n", start)
}

// endsWithEOL reports whether the input's last byte is an end-of-line.
func endsWithEOL(r io.ReaderAt, size int64) bool {
	if size == 0 {
		return false
	}
	var c [1]byte
	if _, err := r.ReadAt(c[:], size-1); err != nil {
		return false
	}
	return c[0] == '\n' || c[0] == '\r'
}

// multiReaderAt is the concatenation of an input and appended updates.
type multiReaderAt struct {
	base     io.ReaderAt
	baseSize int64
	tail     []byte
}

func (m *multiReaderAt) size() int64 { return m.baseSize + int64(len(m.tail)) }

func (m *multiReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < m.baseSize {
		k := len(p)
		if int64(k) > m.baseSize-off {
			k = int(m.baseSize - off)
		}
		got, err := m.base.ReadAt(p[:k], off)
		n += got
		if got < k {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		off += int64(got)
	}
	if n < len(p) {
		t := off - m.baseSize
		if t >= int64(len(m.tail)) {
			return n, io.EOF
		}
		c := copy(p[n:], m.tail[t:])
		n += c
		if n < len(p) {
			return n, io.EOF
		}
	}
	return n, nil
}

// placeholder finds the /ByteRange and /Contents placeholders of the
// first signature dictionary in an update.
func placeholder(upd []byte) (br, cStart, cEnd int, err error) {
	br = bytes.Index(upd, []byte(byteRangeMarker))
	if br < 0 {
		return 0, 0, 0, fmt.Errorf("%w: no /ByteRange placeholder", ErrState)
	}
	c := bytes.Index(upd[br:], []byte("/Contents <"))
	if c < 0 {
		return 0, 0, 0, fmt.Errorf("%w: no /Contents placeholder", ErrState)
	}
	cStart = br + c + len("/Contents ")
	e := bytes.IndexByte(upd[cStart:], '>')
	if e < 0 {
		return 0, 0, 0, fmt.Errorf("%w: no /Contents placeholder end", ErrState)
	}
	return br, cStart, cStart + e + 1, nil
}

const byteRangeMarker = "/ByteRange ["
