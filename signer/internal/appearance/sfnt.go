package appearance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// sfnt is the part of a TrueType font file that the subsetter needs: the raw
// tables by tag, glyph offsets from loca and advances from hmtx.
type sfnt struct {
	tables    map[string][]byte
	numGlyphs int
	upem      int
	loca      []uint32 // numGlyphs+1 offsets into glyf
	advances  []uint16 // per glyph, expanded from hmtx
	lsbs      []int16  // per glyph, expanded from hmtx
	bbox      [4]int16 // head xMin yMin xMax yMax
	ascent    int16    // hhea
	descent   int16    // hhea
	capHeight int16    // OS/2 when present, else ascent
}

// errFont reports a font file the subsetter cannot use.
var errFont = errors.New("appearance: unusable font")

func be16(b []byte, off int) (uint16, bool) {
	if off < 0 || off+2 > len(b) {
		return 0, false
	}
	return binary.BigEndian.Uint16(b[off:]), true
}

func be32(b []byte, off int) (uint32, bool) {
	if off < 0 || off+4 > len(b) {
		return 0, false
	}
	return binary.BigEndian.Uint32(b[off:]), true
}

// parseSFNT reads the table directory and the tables the subsetter needs.
// It checks every offset so that a damaged font yields an error, not a panic.
func parseSFNT(data []byte) (*sfnt, error) {
	n, ok := be16(data, 4)
	if !ok || n == 0 || n > 64 {
		return nil, fmt.Errorf("parse font directory: %w", errFont)
	}
	f := &sfnt{tables: make(map[string][]byte, n)}
	for i := 0; i < int(n); i++ {
		rec := 12 + 16*i
		if rec+16 > len(data) {
			return nil, fmt.Errorf("parse font directory: %w", errFont)
		}
		tag := string(data[rec : rec+4])
		off := binary.BigEndian.Uint32(data[rec+8:])
		length := binary.BigEndian.Uint32(data[rec+12:])
		if uint64(off)+uint64(length) > uint64(len(data)) {
			return nil, fmt.Errorf("parse font table %q: %w", tag, errFont)
		}
		f.tables[tag] = data[off : off+length]
	}
	for _, tag := range []string{"head", "hhea", "hmtx", "maxp", "loca", "glyf"} {
		if f.tables[tag] == nil {
			return nil, fmt.Errorf("parse font: missing table %q: %w", tag, errFont)
		}
	}
	if err := f.parseMetrics(); err != nil {
		return nil, err
	}
	if err := f.parseLoca(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *sfnt) parseMetrics() error {
	head, hhea, maxp := f.tables["head"], f.tables["hhea"], f.tables["maxp"]
	if len(head) < 54 || len(hhea) < 36 || len(maxp) < 6 {
		return fmt.Errorf("parse font metrics: %w", errFont)
	}
	f.upem = int(binary.BigEndian.Uint16(head[18:]))
	if f.upem < 16 || f.upem > 16384 {
		return fmt.Errorf("parse font head: units per em %d: %w", f.upem, errFont)
	}
	for i := range f.bbox {
		f.bbox[i] = int16(binary.BigEndian.Uint16(head[36+2*i:]))
	}
	f.ascent = int16(binary.BigEndian.Uint16(hhea[4:]))
	f.descent = int16(binary.BigEndian.Uint16(hhea[6:]))
	f.capHeight = f.ascent
	if os2 := f.tables["OS/2"]; len(os2) >= 90 {
		f.capHeight = int16(binary.BigEndian.Uint16(os2[88:]))
	}
	f.numGlyphs = int(binary.BigEndian.Uint16(maxp[4:]))
	nh := int(binary.BigEndian.Uint16(hhea[34:]))
	if f.numGlyphs == 0 || nh == 0 || nh > f.numGlyphs {
		return fmt.Errorf("parse font hhea: %w", errFont)
	}
	hmtx := f.tables["hmtx"]
	if len(hmtx) < 4*nh+2*(f.numGlyphs-nh) {
		return fmt.Errorf("parse font hmtx: %w", errFont)
	}
	f.advances = make([]uint16, f.numGlyphs)
	f.lsbs = make([]int16, f.numGlyphs)
	for g := 0; g < f.numGlyphs; g++ {
		if g < nh {
			f.advances[g] = binary.BigEndian.Uint16(hmtx[4*g:])
			f.lsbs[g] = int16(binary.BigEndian.Uint16(hmtx[4*g+2:]))
			continue
		}
		f.advances[g] = f.advances[nh-1]
		f.lsbs[g] = int16(binary.BigEndian.Uint16(hmtx[4*nh+2*(g-nh):]))
	}
	return nil
}

func (f *sfnt) parseLoca() error {
	head, loca, glyf := f.tables["head"], f.tables["loca"], f.tables["glyf"]
	long := binary.BigEndian.Uint16(head[50:]) == 1
	f.loca = make([]uint32, f.numGlyphs+1)
	for g := range f.loca {
		var off uint32
		if long {
			v, ok := be32(loca, 4*g)
			if !ok {
				return fmt.Errorf("parse font loca: %w", errFont)
			}
			off = v
		} else {
			v, ok := be16(loca, 2*g)
			if !ok {
				return fmt.Errorf("parse font loca: %w", errFont)
			}
			off = 2 * uint32(v)
		}
		if off > uint32(len(glyf)) || (g > 0 && off < f.loca[g-1]) {
			return fmt.Errorf("parse font loca: glyph %d: %w", g, errFont)
		}
		f.loca[g] = off
	}
	return nil
}

// advance returns the advance width of glyph g, 0 when out of range.
func (f *sfnt) advance(g int) uint16 {
	if g < 0 || g >= f.numGlyphs {
		return 0
	}
	return f.advances[g]
}

// glyph returns the glyf data of glyph g (empty for blank glyphs).
func (f *sfnt) glyph(g int) []byte {
	if g < 0 || g >= f.numGlyphs {
		return nil
	}
	return f.tables["glyf"][f.loca[g]:f.loca[g+1]]
}

// Composite glyph flags (OpenType glyf table).
const (
	argsAreWords   = 0x0001
	haveScale      = 0x0008
	moreComponents = 0x0020
	haveXYScale    = 0x0040
	haveTwoByTwo   = 0x0080
)

// components returns the byte offsets of the glyph index fields of a
// composite glyph, or nil for a simple glyph.
func components(data []byte) ([]int, error) {
	nc, ok := be16(data, 0)
	if !ok || int16(nc) >= 0 {
		return nil, nil
	}
	var offs []int
	p := 10
	for i := 0; ; i++ {
		if i > 64 {
			return nil, fmt.Errorf("parse composite glyph: too many components: %w", errFont)
		}
		flags, ok := be16(data, p)
		if !ok || p+4 > len(data) {
			return nil, fmt.Errorf("parse composite glyph: %w", errFont)
		}
		offs = append(offs, p+2)
		p = componentEnd(data, p)
		if p > len(data) {
			return nil, fmt.Errorf("parse composite glyph: %w", errFont)
		}
		if flags&moreComponents == 0 {
			return offs, nil
		}
	}
}

// subsetGlyph is one glyph of a subset: the source glyph and, for glyphs
// drawn directly, the text it stands for (ToUnicode).
type subsetGlyph struct {
	src  int
	text string
	adv  uint16 // advance width in font units, for hmtx and /W
	dy   int16  // vertical shift of the outline, font units
}

// weHaveInstructions marks a composite glyph followed by instructions.
const weHaveInstructions = 0x0100

// stripInstructions returns a copy of a glyph without its hinting
// instructions. PDF viewers rasterise embedded fonts unhinted or
// auto-hinted, and DejaVu's instructions are close to half of its glyph
// bytes; without them the font needs no fpgm, prep or cvt table either.
func stripInstructions(data []byte) ([]byte, error) {
	nc, ok := be16(data, 0)
	if !ok {
		return nil, nil // empty glyph
	}
	if int16(nc) < 0 {
		return stripCompositeInstructions(data)
	}
	p := 10 + 2*int(nc)
	n, ok := be16(data, p)
	if !ok || p+2+int(n) > len(data) {
		return nil, fmt.Errorf("parse simple glyph: %w", errFont)
	}
	out := make([]byte, 0, len(data)-int(n))
	out = append(out, data[:p]...)
	out = append(out, 0, 0)
	return append(out, data[p+2+int(n):]...), nil
}

func stripCompositeInstructions(data []byte) ([]byte, error) {
	offs, err := components(data)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), data...)
	last := offs[len(offs)-1] - 2 // flags of the last component
	flags := binary.BigEndian.Uint16(out[last:])
	if flags&weHaveInstructions == 0 {
		return out, nil
	}
	binary.BigEndian.PutUint16(out[last:], flags&^weHaveInstructions)
	end := componentEnd(out, last)
	return out[:end], nil
}

// componentEnd returns the offset after the component record at p, whose
// bounds components has already checked.
func componentEnd(data []byte, p int) int {
	flags := binary.BigEndian.Uint16(data[p:])
	p += 4
	if flags&argsAreWords != 0 {
		p += 4
	} else {
		p += 2
	}
	switch {
	case flags&haveScale != 0:
		p += 2
	case flags&haveXYScale != 0:
		p += 4
	case flags&haveTwoByTwo != 0:
		p += 8
	}
	return p
}

// Composite glyph flags for a shifted copy.
const (
	argsAreXYValues = 0x0002
)

// shifted returns a composite glyph that draws glyph src moved up by dy.
// Marks placed by the shaper (Arabic harakat) get such copies, so that the
// content stream draws every glyph on the line's baseline: text rise would
// put them on lines of their own for text extractors.
func shifted(data []byte, src int, dy int16) []byte {
	if len(data) < 10 {
		return data // empty glyph: nothing to move
	}
	out := make([]byte, 20)
	binary.BigEndian.PutUint16(out[0:], 0xFFFF) // numberOfContours -1
	copy(out[2:4], data[2:4])
	binary.BigEndian.PutUint16(out[4:], uint16(int16(binary.BigEndian.Uint16(data[4:]))+dy))
	copy(out[6:8], data[6:8])
	binary.BigEndian.PutUint16(out[8:], uint16(int16(binary.BigEndian.Uint16(data[8:]))+dy))
	binary.BigEndian.PutUint16(out[10:], argsAreWords|argsAreXYValues)
	binary.BigEndian.PutUint16(out[12:], uint16(src))
	binary.BigEndian.PutUint16(out[14:], 0)
	binary.BigEndian.PutUint16(out[16:], uint16(dy))
	return out[:18]
}

// subset builds a TrueType font holding only the given glyphs, renumbered in
// order: new glyph i is glyphs[i]; glyphs[0] must be .notdef. Components of
// composite glyphs are appended and their references rewritten. It returns
// the font file and the final glyph list (with appended components).
func (f *sfnt) subset(glyphs []subsetGlyph) ([]byte, []subsetGlyph, error) {
	compIndex := make(map[int]int) // source glyph -> new index, for components
	var glyfOut []byte
	loca := make([]uint32, 0, len(glyphs)+1)
	for i := 0; i < len(glyphs); i++ {
		if i > 4*maxGlyphsPerStamp {
			return nil, nil, fmt.Errorf("subset font: too many glyphs: %w", errFont)
		}
		data, err := stripInstructions(f.glyph(glyphs[i].src))
		if err != nil {
			return nil, nil, err
		}
		if glyphs[i].dy != 0 {
			data = shifted(data, glyphs[i].src, glyphs[i].dy)
		}
		offs, err := components(data)
		if err != nil {
			return nil, nil, err
		}
		start := len(glyfOut)
		loca = append(loca, uint32(start))
		glyfOut = append(glyfOut, data...)
		for _, o := range offs {
			src := int(binary.BigEndian.Uint16(data[o:]))
			if src >= f.numGlyphs {
				return nil, nil, fmt.Errorf("subset font: component %d out of range: %w", src, errFont)
			}
			ni, ok := compIndex[src]
			if !ok {
				ni = len(glyphs)
				glyphs = append(glyphs, subsetGlyph{src: src, adv: f.advances[src]})
				compIndex[src] = ni
			}
			binary.BigEndian.PutUint16(glyfOut[start+o:], uint16(ni))
		}
		for len(glyfOut)%4 != 0 {
			glyfOut = append(glyfOut, 0)
		}
	}
	loca = append(loca, uint32(len(glyfOut)))
	return f.assemble(glyphs, glyfOut, loca), glyphs, nil
}

// assemble writes the subset font file: glyf, loca (long), hmtx for the
// new glyph order, updated head/hhea/maxp, a format 3 post table, an empty
// cmap and OS/2.
func (f *sfnt) assemble(glyphs []subsetGlyph, glyf []byte, loca []uint32) []byte {
	n := len(glyphs)
	tables := map[string][]byte{"glyf": glyf}

	locaB := make([]byte, 4*len(loca))
	for i, v := range loca {
		binary.BigEndian.PutUint32(locaB[4*i:], v)
	}
	tables["loca"] = locaB

	hmtx := make([]byte, 4*n)
	for i, g := range glyphs {
		binary.BigEndian.PutUint16(hmtx[4*i:], g.adv)
		binary.BigEndian.PutUint16(hmtx[4*i+2:], uint16(f.lsbs[g.src]))
	}
	tables["hmtx"] = hmtx

	head := append([]byte(nil), f.tables["head"]...)
	binary.BigEndian.PutUint32(head[8:], 0) // checkSumAdjustment, set below
	binary.BigEndian.PutUint16(head[50:], 1)
	tables["head"] = head

	hhea := append([]byte(nil), f.tables["hhea"]...)
	binary.BigEndian.PutUint16(hhea[34:], uint16(n))
	tables["hhea"] = hhea

	maxp := append([]byte(nil), f.tables["maxp"]...)
	binary.BigEndian.PutUint16(maxp[4:], uint16(n))
	if len(maxp) >= 32 { // version 1.0: shifted copies add a level of nesting
		elems := max(binary.BigEndian.Uint16(maxp[28:]), 1)
		binary.BigEndian.PutUint16(maxp[28:], elems)
		binary.BigEndian.PutUint16(maxp[30:], binary.BigEndian.Uint16(maxp[30:])+1)
	}
	tables["maxp"] = maxp

	post := make([]byte, 32)
	binary.BigEndian.PutUint32(post[0:], 0x00030000)
	if src := f.tables["post"]; len(src) >= 32 {
		copy(post[4:16], src[4:16]) // italicAngle, underline metrics, isFixedPitch
	}
	tables["post"] = post

	tables["cmap"] = emptyCmap

	for _, tag := range []string{"OS/2"} {
		if t := f.tables[tag]; t != nil {
			tables[tag] = t
		}
	}
	return writeSFNT(tables)
}

// emptyCmap is a cmap table with one Windows Unicode (3,1) format 4
// subtable that maps no character: the PDF addresses glyphs by CID through
// /CIDToGIDMap /Identity, but font loaders insist on a cmap table.
var emptyCmap = []byte{
	0, 0, 0, 1, // version, numTables
	0, 3, 0, 1, 0, 0, 0, 12, // platform 3, encoding 1, offset
	0, 4, 0, 24, 0, 0, // format 4, length, language
	0, 2, 0, 2, 0, 0, 0, 0, // segCountX2, searchRange, entrySelector, rangeShift
	0xFF, 0xFF, // endCode
	0, 0, // reservedPad
	0xFF, 0xFF, // startCode
	0, 1, // idDelta
	0, 0, // idRangeOffset
}

// writeSFNT lays out the tables with a sorted directory and checksums.
func writeSFNT(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	size := 12 + 16*len(tables)
	for tag, t := range tables {
		tags = append(tags, tag)
		size += (len(t) + 3) &^ 3
	}
	sort.Strings(tags)
	out := make([]byte, 12+16*len(tags), size)
	binary.BigEndian.PutUint32(out[0:], 0x00010000)
	nt := len(tags)
	binary.BigEndian.PutUint16(out[4:], uint16(nt))
	es := 0
	for 1<<(es+1) <= nt {
		es++
	}
	binary.BigEndian.PutUint16(out[6:], uint16(16<<es))
	binary.BigEndian.PutUint16(out[8:], uint16(es))
	binary.BigEndian.PutUint16(out[10:], uint16(16*nt-16<<es))
	headOff := 0
	for i, tag := range tags {
		t := tables[tag]
		rec := 12 + 16*i
		copy(out[rec:], tag)
		binary.BigEndian.PutUint32(out[rec+4:], checksum(t))
		binary.BigEndian.PutUint32(out[rec+8:], uint32(len(out)))
		binary.BigEndian.PutUint32(out[rec+12:], uint32(len(t)))
		if tag == "head" {
			headOff = len(out)
		}
		out = append(out, t...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	binary.BigEndian.PutUint32(out[headOff+8:], 0xB1B0AFBA-checksum(out))
	return out
}

func checksum(b []byte) uint32 {
	var sum uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		sum += binary.BigEndian.Uint32(w[:])
	}
	return sum
}
