package appearance

import (
	"math"
	"strconv"

	"github.com/go-text/typesetting/bidi"
)

// lineSpec is one line to draw: its text and its size relative to the
// others. rtl forces a right-to-left paragraph; auto takes the direction
// of the first strong character.
type lineSpec struct {
	text  string
	scale float64
	gray  float64 // fill colour, 0 is black
	rtl   bool
	auto  bool
}

// placedLine is a shaped line with its font size and baseline origin.
type placedLine struct {
	spec lineSpec
	text string // drawn text, logical order (after truncation)
	line line
	size float64
	x, y float64
}

// Layout constants, in points or as fractions of the font size.
const (
	maxFontSize = 36.0
	minFontSize = 4.0
	lineGap     = 1.22 // slot height per unit of font size
	borderWidth = 0.8
	ellipsis    = "…"
)

// layout is the geometry of the stamp: the QR box and the text box.
type layout struct {
	w, h               float64
	hasQR              bool
	qrX, qrY, qrSide   float64
	tx0, ty0, tx1, ty1 float64
	asc, desc          float64 // font ascent and descent per em
	upem               float64
}

func newLayout(o Options, hasQR bool) *layout {
	l := &layout{w: o.Width, h: o.Height, hasQR: hasQR}
	pad := math.Max(2, math.Min(6, 0.055*math.Min(l.w, l.h)))
	inset := borderWidth
	l.tx0, l.ty0, l.tx1, l.ty1 = pad, pad, l.w-pad, l.h-pad
	switch {
	case !hasQR:
	case l.w >= l.h:
		l.qrSide = math.Min(l.h-2*inset, 0.45*l.w)
		l.qrX, l.qrY = inset, (l.h-l.qrSide)/2
		l.tx0 = l.qrX + l.qrSide + pad/2
	default:
		l.qrSide = math.Min(l.w-2*inset, 0.5*l.h)
		l.qrX, l.qrY = (l.w-l.qrSide)/2, inset
		l.ty0 = l.qrY + l.qrSide + pad/2
	}
	return l
}

// fitText shapes the lines and chooses their sizes: one base size from the
// height, then each line shrinks to the width, down to minFontSize; a line
// that still does not fit is cut with an ellipsis.
func (l *layout) fitText(sh *shaper, specs []lineSpec) []placedLine {
	ttf := sh.fd.ttf
	l.upem = float64(ttf.upem)
	l.asc, l.desc = float64(ttf.ascent)/l.upem, float64(ttf.descent)/l.upem
	sum := 0.0
	for _, sp := range specs {
		sum += sp.scale * lineGap
	}
	textW, textH := l.tx1-l.tx0, l.ty1-l.ty0
	base := math.Min(maxFontSize, textH/sum)
	out := make([]placedLine, len(specs))
	top := l.ty1 - (textH-base*sum)/2
	for i, sp := range specs {
		p := &out[i]
		p.spec, p.text = sp, sp.text
		want := sp.scale * base
		floor := math.Min(want, minFontSize)
		p.line = sh.shape([]rune(p.text), sp.direction())
		p.size = want
		if em := p.line.width / l.upem; em*want > textW {
			p.size = math.Max(floor, textW/em)
			if em*p.size > textW {
				p.text, p.line = l.truncate(sh, sp, p.line, textW/p.size)
			}
		}
		slot := want * lineGap
		p.y = top - slot/2 - (l.asc+l.desc)/2*p.size
		top -= slot
		p.x = l.tx0
		if p.line.rtl {
			p.x = l.tx1 - p.line.width/l.upem*p.size
		}
	}
	return out
}

func (sp lineSpec) direction() bidi.Direction {
	switch {
	case sp.rtl:
		return bidi.RightToLeft
	case sp.auto:
		return bidi.Neutral
	}
	return bidi.LeftToRight
}

// truncate finds the longest prefix of the line that, with an ellipsis,
// fits in maxEm ems. The widths of the clusters of the full line give the
// prefix widths; since shaping at the cut may differ a little (an Arabic
// letter takes its final form), candidates are shaped from the estimate
// downwards until one fits.
func (l *layout) truncate(sh *shaper, sp lineSpec, full line, maxEm float64) (string, line) {
	runes := []rune(sp.text)
	make1 := func(k int) []rune {
		r := append([]rune(nil), runes[:k]...)
		for len(r) > 0 && r[len(r)-1] == ' ' {
			r = r[:len(r)-1]
		}
		return append(r, []rune(ellipsis)...)
	}
	prefix := make([]float64, len(runes)+1) // prefix[k]: width of runes[:k]
	for _, g := range full.glyphs {
		if g.cluster >= 0 && g.cluster < len(runes) {
			prefix[g.cluster+1] += g.adv
		}
	}
	for k := 1; k < len(prefix); k++ {
		prefix[k] += prefix[k-1]
	}
	ell := sh.shape([]rune(ellipsis), sp.direction()).width
	limit := maxEm * l.upem
	k := len(runes) - 1
	for k > 0 && prefix[k]+ell > limit {
		k--
	}
	for tries := 0; k > 0 && tries < 16; k, tries = k-1, tries+1 {
		cand := make1(k)
		if cl := sh.shape(cand, sp.direction()); cl.width <= limit {
			return string(cand), cl
		}
	}
	for ; k > 0; k -= max(1, k/4) {
		cand := make1(k)
		if cl := sh.shape(cand, sp.direction()); cl.width <= limit {
			return string(cand), cl
		}
	}
	cand := make1(0)
	return string(cand), sh.shape(cand, sp.direction())
}

// glyphKey identifies a glyph of the subset: the same source glyph standing
// for different text gets its own CID so that ToUnicode stays exact.
type glyphKey struct {
	gid  int
	text string
	w    uint16
	dy   int16
}

// glyphSet assigns CIDs (glyph indexes of the subset) in order of use.
type glyphSet struct {
	cids map[glyphKey]int
	list []subsetGlyph
}

func newGlyphSet(ttf *sfnt) *glyphSet {
	w := ttf.advance(0)
	return &glyphSet{
		cids: map[glyphKey]int{{w: w}: 0},
		list: []subsetGlyph{{src: 0, adv: w}},
	}
}

func (gs *glyphSet) cid(g glyph) int {
	dy := int16(max(-4096, min(4096, math.Round(g.yOff))))
	k := glyphKey{g.gid, g.text, g.w, dy}
	if c, ok := gs.cids[k]; ok {
		return c
	}
	c := len(gs.list)
	gs.cids[k] = c
	gs.list = append(gs.list, subsetGlyph{src: g.gid, text: g.text, adv: g.w, dy: dy})
	return c
}

// content writes the stamp's content stream.
func (l *layout) content(ttf *sfnt, gs *glyphSet, qrc *qrCode, lines []placedLine) []byte {
	b := make([]byte, 0, 4096)
	b = append(b, "q\n"...)
	// frame
	b = append(b, "0.13 0.27 0.47 RG "...)
	b = num(b, borderWidth)
	b = append(b, " w "...)
	b = rect(b, borderWidth/2, borderWidth/2, l.w-borderWidth, l.h-borderWidth)
	b = append(b, " S\n"...)
	if l.hasQR && qrc != nil {
		b = qrc.draw(b, l.qrX, l.qrY, l.qrSide)
	}
	b = append(b, "BT\n"...)
	for _, p := range lines {
		b = l.drawLine(b, ttf, gs, p)
	}
	b = append(b, "ET\nQ\n"...)
	return b
}

// drawLine writes one line as a TJ array, placing each glyph where the
// shaper put it: advances differing from the font's widths become TJ
// adjustments; vertical offsets (Arabic marks) are in the glyphs themselves
// (see [shifted]).
func (l *layout) drawLine(b []byte, ttf *sfnt, gs *glyphSet, p placedLine) []byte {
	b = append(b, "/F1 "...)
	b = num(b, p.size)
	b = append(b, " Tf "...)
	b = num(b, p.spec.gray)
	b = append(b, " g 1 0 0 1 "...)
	b = num(b, p.x)
	b = append(b, ' ')
	b = num(b, p.y)
	b = append(b, " Tm\n["...)
	k := 1000 / l.upem // font units to text space thousandths
	cursor := 0.0
	for _, g := range p.line.glyphs {
		want := (g.x + g.xOff) * k
		if d := cursor - want; math.Abs(d) >= 0.05 {
			b = num1(b, d)
		}
		b = append(b, '<')
		b = hex4(b, gs.cid(g))
		b = append(b, '>')
		cursor = want + width1000(ttf, g.w)
	}
	return append(b, "] TJ\n"...)
}

// width1000 is an advance in font units in thousandths of an em, as
// written in the /W array.
func width1000(ttf *sfnt, adv uint16) float64 {
	return math.Round(float64(adv) * 1000 / float64(ttf.upem))
}

func rect(b []byte, x, y, w, h float64) []byte {
	b = num(b, x)
	b = append(b, ' ')
	b = num(b, y)
	b = append(b, ' ')
	b = num(b, w)
	b = append(b, ' ')
	b = num(b, h)
	return append(b, " re"...)
}

// num appends v rounded to 3 decimals, without exponent or "-0".
func num(b []byte, v float64) []byte {
	return appendRounded(b, v, 1000)
}

// num1 appends v rounded to 1 decimal.
func num1(b []byte, v float64) []byte {
	return appendRounded(b, v, 10)
}

func appendRounded(b []byte, v, scale float64) []byte {
	v = math.Round(v*scale) / scale
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, '0')
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

func hex4(b []byte, v int) []byte {
	const digits = "0123456789ABCDEF"
	return append(b, digits[v>>12&15], digits[v>>8&15], digits[v>>4&15], digits[v&15])
}
