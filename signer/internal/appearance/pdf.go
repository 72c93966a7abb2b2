package appearance

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"unicode/utf16"
)

// assemble writes the stamp's objects: the form XObject, the Type0 font,
// its CIDFontType2 descendant, the font descriptor, the ToUnicode CMap and
// the subset font file.
func assemble(fd *fontData, l *layout, qrc *qrCode, lines []placedLine) (*Stamp, error) {
	gs := newGlyphSet(fd.ttf)
	content := l.content(fd.ttf, gs, qrc, lines)
	if len(gs.list) > maxGlyphsPerStamp {
		return nil, fmt.Errorf("build stamp: %d glyphs: %w", len(gs.list), ErrInvalidOptions)
	}
	drawn := len(gs.list)
	fontFile, _, err := fd.ttf.subset(gs.list)
	if err != nil {
		return nil, fmt.Errorf("build stamp: %w", err)
	}
	name := subsetTag(gs.list) + "+DejaVuSans"
	st := &Stamp{Objects: make([]Object, 6)}
	st.Objects[0] = Object{
		Dict: fmt.Sprintf("<< /Type /XObject /Subtype /Form /FormType 1 /BBox [0 0 %s %s] "+
			"/Matrix [1 0 0 1 0 0] /Resources << /Font << /F1 {{ref 1}} >> /ProcSet [/PDF /Text] >> "+
			"/Filter /FlateDecode >>", num(nil, l.w), num(nil, l.h)),
		Stream: deflate(content),
	}
	st.Objects[1] = Object{Dict: "<< /Type /Font /Subtype /Type0 /BaseFont /" + name +
		" /Encoding /Identity-H /DescendantFonts [{{ref 2}}] /ToUnicode {{ref 4}} >>"}
	st.Objects[2] = Object{Dict: "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /" + name +
		" /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>" +
		" /FontDescriptor {{ref 3}} /CIDToGIDMap /Identity /DW 0 /W " +
		widths(fd.ttf, gs.list[:drawn]) + " >>"}
	st.Objects[3] = Object{Dict: descriptor(fd.ttf, name)}
	st.Objects[4] = Object{Dict: "<< /Filter /FlateDecode >>", Stream: deflate(toUnicode(gs.list[:drawn]))}
	st.Objects[5] = Object{
		Dict:   fmt.Sprintf("<< /Length1 %d /Filter /FlateDecode >>", len(fontFile)),
		Stream: deflate(fontFile),
	}
	for _, p := range lines {
		st.lines = append(st.lines, p.text)
	}
	return st, nil
}

// widths writes the /W array for CIDs 0..len(glyphs)-1.
func widths(ttf *sfnt, glyphs []subsetGlyph) string {
	b := []byte("[0 [")
	for i, g := range glyphs {
		if i > 0 {
			b = append(b, ' ')
		}
		b = num(b, width1000(ttf, g.adv))
	}
	return string(append(b, "]]"...))
}

func descriptor(ttf *sfnt, name string) string {
	s := 1000 / float64(ttf.upem)
	u := func(v int16) string { return string(num(nil, math.Round(float64(v)*s))) }
	return "<< /Type /FontDescriptor /FontName /" + name + " /Flags 32" +
		" /FontBBox [" + u(ttf.bbox[0]) + " " + u(ttf.bbox[1]) + " " + u(ttf.bbox[2]) + " " + u(ttf.bbox[3]) + "]" +
		" /ItalicAngle 0 /Ascent " + u(ttf.ascent) + " /Descent " + u(ttf.descent) +
		" /CapHeight " + u(ttf.capHeight) + " /StemV 80 /FontFile2 {{ref 5}} >>"
}

// subsetTag derives the six capital letters that name a subset (ISO 32000-1
// §9.6.4) from the glyphs it holds, so equal stamps get equal names.
func subsetTag(glyphs []subsetGlyph) string {
	h := fnv.New64a()
	for _, g := range glyphs {
		fmt.Fprintf(h, "%d:%s;", g.src, g.text)
	}
	v := h.Sum64()
	var tag [6]byte
	for i := range tag {
		tag[i] = byte('A' + v%26)
		v /= 26
	}
	return string(tag[:])
}

// toUnicode writes the CMap mapping each CID to its text in UTF-16BE.
func toUnicode(glyphs []subsetGlyph) []byte {
	var b strings.Builder
	b.WriteString("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n" +
		"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n" +
		"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n" +
		"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	var entries []string
	for cid, g := range glyphs {
		if g.text == "" {
			continue
		}
		var e []byte
		e = append(e, '<')
		e = hex4(e, cid)
		e = append(e, "> <"...)
		for _, u := range utf16.Encode([]rune(g.text)) {
			e = hex4(e, int(u))
		}
		e = append(e, '>')
		entries = append(entries, string(e))
	}
	for len(entries) > 0 {
		n := min(len(entries), 100)
		fmt.Fprintf(&b, "%d beginbfchar\n%s\nendbfchar\n", n, strings.Join(entries[:n], "\n"))
		entries = entries[n:]
	}
	b.WriteString("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
	return []byte(b.String())
}

var zlibPool sync.Pool

// deflate compresses b for a /FlateDecode stream. BestSpeed: the glyph
// outlines that make most of a stamp hardly compress, and the default level
// costs twice the time for some 5% of size.
func deflate(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b)/2 + 64)
	w, ok := zlibPool.Get().(*zlib.Writer)
	if ok {
		w.Reset(&buf)
	} else {
		// The level is a constant known to be valid.
		w, _ = zlib.NewWriterLevel(&buf, zlib.BestSpeed)
	}
	// Writes to a bytes.Buffer do not fail.
	_, _ = w.Write(b)
	_ = w.Close()
	zlibPool.Put(w)
	return buf.Bytes()
}
