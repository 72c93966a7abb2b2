package appearance

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/go-fonts/dejavu/dejavusans"
	"github.com/go-text/typesetting/bidi"
	"github.com/go-text/typesetting/di"
	"github.com/go-text/typesetting/font"
	"github.com/go-text/typesetting/language"
	"github.com/go-text/typesetting/shaping"
	"golang.org/x/image/math/fixed"
)

// fontData is the parsed stamp font, shared read-only by all calls.
type fontData struct {
	ttf  *sfnt
	font *font.Font
}

var (
	loadFontOnce sync.Once
	loadedFont   *fontData
	loadFontErr  error
)

// theFont parses DejaVu Sans once per process.
func theFont() (*fontData, error) {
	loadFontOnce.Do(func() {
		ttf, err := parseSFNT(dejavusans.TTF)
		if err != nil {
			loadFontErr = fmt.Errorf("load stamp font: %w", err)
			return
		}
		face, err := font.ParseTTF(bytes.NewReader(dejavusans.TTF))
		if err != nil {
			loadFontErr = fmt.Errorf("load stamp font: %w", err)
			return
		}
		loadedFont = &fontData{ttf: ttf, font: face.Font}
	})
	return loadedFont, loadFontErr
}

// shaper holds the mutable state of one shaping call (the harfbuzz buffer,
// the face caches and the bidi paragraph); shapers are pooled because none
// of that state is safe for concurrent use.
type shaper struct {
	fd    *fontData
	face  *font.Face
	blank int // an empty glyph (space), for splitLigature
	hb    shaping.HarfbuzzShaper
	para  bidi.Paragraph
}

var shaperPool sync.Pool

func getShaper(fd *fontData) *shaper {
	if s, ok := shaperPool.Get().(*shaper); ok {
		return s
	}
	s := &shaper{fd: fd, face: font.NewFace(fd.font)}
	if g, ok := s.face.NominalGlyph(' '); ok {
		s.blank = int(g)
	}
	return s
}

func putShaper(s *shaper) { shaperPool.Put(s) }

// glyph is one positioned glyph of a shaped line, in font units.
type glyph struct {
	gid        int
	text       string  // the characters this glyph stands for; "" for none
	w          uint16  // width written in /W, font units
	cluster    int     // index of the first character of its cluster
	x          float64 // pen position from the start of the line
	adv        float64
	xOff, yOff float64
}

// line is a shaped line: glyphs in visual order, left to right.
type line struct {
	glyphs []glyph
	width  float64 // font units
	rtl    bool    // paragraph direction
}

// item is a run of one direction and one script, in logical order.
type item struct {
	start, end int
	level      bidi.Level
	script     language.Script
}

var (
	langArabic  = language.NewLanguage("ar")
	langEnglish = language.NewLanguage("en")
)

// shape runs the bidi algorithm over text, shapes each run with harfbuzz
// and returns the glyphs in visual order.
func (s *shaper) shape(text []rune, dir bidi.Direction) line {
	if len(text) == 0 {
		return line{rtl: dir == bidi.RightToLeft}
	}
	runs := s.para.Segment(text, dir)
	var items []item
	var out line
	for i := 0; i < runs.NumRuns(); i++ {
		r := runs.Run(i)
		if i == 0 {
			out.rtl = paragraphRTL(runs, dir)
		}
		items = appendScriptItems(items, text, r)
	}
	reorder(items)
	for _, it := range items {
		start := len(out.glyphs)
		out.glyphs = s.shapeItem(out.glyphs, text, it)
		itemWidth := 0.0
		for i := range out.glyphs[start:] {
			g := &out.glyphs[start+i]
			itemWidth = max(itemWidth, g.x+g.adv)
			g.x += out.width
		}
		out.width += itemWidth
	}
	return out
}

// paragraphRTL reports the paragraph direction: the forced one, or the
// one the bidi algorithm found from the first strong character, which is
// the lowest level of the runs (a line may start with digits at level 2).
func paragraphRTL(runs bidi.Runs, dir bidi.Direction) bool {
	switch dir {
	case bidi.RightToLeft:
		return true
	case bidi.LeftToRight:
		return false
	}
	if runs.NumRuns() == 0 {
		return false
	}
	lowest := runs.Run(0).Level
	for i := 1; i < runs.NumRuns(); i++ {
		lowest = min(lowest, runs.Run(i).Level)
	}
	return lowest%2 == 1
}

// appendScriptItems splits one bidi run by script; characters of the
// Common and Inherited scripts join the run they are in.
func appendScriptItems(items []item, text []rune, r bidi.Run) []item {
	start := r.Start
	cur := language.Common
	for i := r.Start; i < r.End && i < len(text); i++ {
		sc := language.LookupScript(text[i])
		if sc == language.Common || sc == language.Inherited || sc == language.Unknown {
			continue
		}
		if cur == language.Common {
			cur = sc
			continue
		}
		if sc != cur {
			items = append(items, item{start: start, end: i, level: r.Level, script: cur})
			start, cur = i, sc
		}
	}
	if cur == language.Common {
		cur = language.Latin
		if !r.IsLeftToRight() {
			cur = language.Arabic
		}
	}
	return append(items, item{start: start, end: r.End, level: r.Level, script: cur})
}

// reorder applies rule L2 of the bidi algorithm to the items: from the
// highest level down to the lowest odd level, reverse every sequence of
// items at that level or higher.
func reorder(items []item) {
	var maxLevel, minOdd bidi.Level = 0, 127
	for _, it := range items {
		maxLevel = max(maxLevel, it.level)
		if it.level%2 == 1 {
			minOdd = min(minOdd, it.level)
		}
	}
	for lvl := maxLevel; lvl >= minOdd && lvl > 0; lvl-- {
		for i := 0; i < len(items); {
			if items[i].level < lvl {
				i++
				continue
			}
			j := i
			for j < len(items) && items[j].level >= lvl {
				j++
			}
			for a, b := i, j-1; a < b; a, b = a+1, b-1 {
				items[a], items[b] = items[b], items[a]
			}
			i = j
		}
	}
}

// shapeItem shapes one item at one em per font unit and appends its glyphs.
func (s *shaper) shapeItem(dst []glyph, text []rune, it item) []glyph {
	d := di.DirectionLTR
	if it.level%2 == 1 {
		d = di.DirectionRTL
	}
	lang := langEnglish
	if it.script == language.Arabic {
		lang = langArabic
	}
	out := s.hb.Shape(shaping.Input{
		Text:      text,
		RunStart:  it.start,
		RunEnd:    it.end,
		Direction: d,
		Face:      s.face,
		Size:      fixed.I(s.fd.ttf.upem),
		Script:    it.script,
		Language:  lang,
	})
	rtl := d == di.DirectionRTL
	texts := s.clusterTexts(text, out.Glyphs, it, rtl)
	gs := make([]glyph, len(out.Glyphs))
	x := 0.0
	for i, g := range out.Glyphs {
		gs[i] = glyph{
			gid:     int(g.GlyphID),
			text:    texts[i],
			cluster: g.TextIndex(),
			w:       s.fd.ttf.advance(int(g.GlyphID)),
			x:       x,
			adv:     float64(g.Advance) / 64,
			xOff:    float64(g.XOffset) / 64,
			yOff:    float64(g.YOffset) / 64,
		}
		x += gs[i].adv
	}
	if !rtl {
		return append(dst, gs...)
	}
	for _, g := range gs {
		if utf8.RuneCountInString(g.text) > 1 {
			dst = s.splitLigature(dst, g)
			continue
		}
		dst = append(dst, g)
	}
	return dst
}

// splitLigature draws a right-to-left glyph that stands for several
// characters (lam-alef) as that glyph followed by invisible glyphs, one per
// character, sharing its advance, each mapped to one character, from the
// last character at the left to the first at the right.
//
// A multi-character ToUnicode entry would do in principle, but text
// extractors (poppler, MuPDF, pdf.js) read glyphs left to right and then
// reverse right-to-left words character by character, which turns "لا"
// into "ال". One character per glyph in visual order comes out right.
func (s *shaper) splitLigature(dst []glyph, g glyph) []glyph {
	runes := []rune(g.text)
	n := len(runes)
	part := g.adv / float64(n)
	w := uint16(math.Round(part))
	for k := 0; k < n; k++ {
		p := glyph{gid: s.blank, text: string(runes[n-1-k]), w: w, adv: part,
			x: g.x + float64(k)*part, cluster: g.cluster}
		if k == 0 {
			p.gid, p.xOff, p.yOff = g.gid, g.xOff, g.yOff
		}
		dst = append(dst, p)
	}
	return dst
}

// clusterTexts gives each glyph the characters it stands for, from the
// shaper's clusters: a glyph that is the nominal glyph of a character of
// its cluster gets that character; the cluster's remaining characters go
// to its first glyph without one (a ligature such as lam-alef gets both).
func (s *shaper) clusterTexts(text []rune, gs []shaping.Glyph, it item, rtl bool) []string {
	texts := make([]string, len(gs))
	starts := make([]int, 0, len(gs))
	for _, g := range gs {
		starts = append(starts, g.TextIndex())
	}
	sort.Ints(starts)
	next := func(c int) int {
		k := sort.SearchInts(starts, c+1)
		if k < len(starts) {
			return starts[k]
		}
		return it.end
	}
	for i := 0; i < len(gs); {
		j := i
		for j < len(gs) && gs[j].TextIndex() == gs[i].TextIndex() {
			j++
		}
		c := gs[i].TextIndex()
		lo, hi := clamp(c, it.start, it.end), clamp(next(c), it.start, it.end)
		s.assign(texts[i:j], gs[i:j], text[lo:hi], rtl)
		i = j
	}
	return texts
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// assign maps the runes of one cluster to its glyphs (visual order). Base
// characters go to advancing glyphs and marks to zero-width glyphs, each in
// logical order, the last glyph of a kind taking what is left (a ligature
// such as lam-alef, a mark glyph for shadda with fatha). A cluster with
// glyphs of one kind only gives them all its characters in order.
func (s *shaper) assign(texts []string, gs []shaping.Glyph, runes []rune, rtl bool) {
	var adv, zero []int // glyph indexes in logical order
	for k := range gs {
		if rtl {
			k = len(gs) - 1 - k
		}
		if gs[k].Advance != 0 {
			adv = append(adv, k)
		} else {
			zero = append(zero, k)
		}
	}
	if len(adv) == 0 || len(zero) == 0 {
		spread(texts, append(adv, zero...), runes)
		return
	}
	var bases, marks []rune
	for _, r := range runes {
		if unicode.In(r, unicode.Mn, unicode.Me) {
			marks = append(marks, r)
		} else {
			bases = append(bases, r)
		}
	}
	spread(texts, adv, bases)
	spread(texts, zero, marks)
}

// spread gives runes[i] to glyph idx[i], the last glyph taking the rest.
func spread(texts []string, idx []int, runes []rune) {
	const maxRunesPerGlyph = 32 // bounds a CMap entry
	for i, k := range idx {
		if i >= len(runes) {
			return
		}
		if i == len(idx)-1 {
			texts[k] = string(runes[i:min(len(runes), i+maxRunesPerGlyph)])
			return
		}
		texts[k] = string(runes[i])
	}
}
