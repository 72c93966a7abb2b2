package appearance

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
)

// Limits on the options. A widget larger than MaxSide points on a side or
// text longer than MaxTextBytes is refused as absurd rather than drawn.
const (
	MinWidth     = 36    // points
	MinHeight    = 18    // points
	MaxSide      = 14400 // points, the PDF limit on a page side
	MaxTextBytes = 1024  // per name or reason, UTF-8 bytes
	MaxURLBytes  = 1024  // VerifyURL, bytes
)

// maxGlyphsPerStamp bounds the glyphs of one stamp (subset and CMap size).
const maxGlyphsPerStamp = 8192

// Errors returned by [Build]. Errors about options wrap ErrInvalidOptions.
var (
	// ErrInvalidOptions reports options that cannot make a stamp: a size out
	// of range, no name at all, text or URL too long, no signing time.
	ErrInvalidOptions = errors.New("appearance: invalid options")
	// ErrQR reports a verification URL that cannot be encoded as a QR code.
	ErrQR = errors.New("appearance: cannot encode qr code")
)

// Options says what the stamp shows and how large it is.
type Options struct {
	Width, Height         float64 // points; the widget rectangle size
	NameArabic, NameLatin string
	SigningTime           time.Time
	Location              *time.Location // for formatting the time; nil = UTC
	Reason                string
	VerifyURL             string // encoded in the QR code; empty = no QR code
}

// Object is one PDF indirect object to write. Dict is the dictionary in PDF
// syntax ("<< ... >>"); references to other objects of the same Stamp are
// written as "{{ref N}}" where N is the index in Stamp.Objects; the writer
// replaces them with "M 0 R" after assigning object numbers. When Stream is
// non-nil the object is a stream: the writer adds /Length (Dict has none)
// and writes the bytes as is (any /Filter is already in Dict).
type Object struct {
	Dict   string
	Stream []byte
}

// Stamp is the appearance of one signature widget. Objects[0] is the form
// XObject (/Type /XObject /Subtype /Form /BBox [0 0 W H] /Resources ...)
// to use as the widget's /AP /N. The others are, in order, the Type0 font,
// its CIDFontType2 descendant, the font descriptor, the ToUnicode CMap and
// the subset font file; a writer needs no knowledge of them.
type Stamp struct {
	Objects []Object

	lines []string
}

// Text returns the lines drawn on the stamp, each in logical order as a
// reader would type it, after any truncation.
func (s *Stamp) Text() []string { return append([]string(nil), s.lines...) }

// Size returns the number of bytes of the stamp's dictionaries and streams.
func (s *Stamp) Size() int {
	n := 0
	for _, o := range s.Objects {
		n += len(o.Dict) + len(o.Stream)
	}
	return n
}

// Build draws the stamp described by opts.
func Build(opts Options) (*Stamp, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	fd, err := theFont()
	if err != nil {
		return nil, fmt.Errorf("build stamp: %w", err)
	}
	qr, err := encodeQR(opts.VerifyURL)
	if err != nil {
		return nil, err
	}
	sh := getShaper(fd)
	defer putShaper(sh)
	l := newLayout(opts, qr != nil)
	texts := l.fitText(sh, opts.lines())
	return assemble(fd, l, qr, texts)
}

func (o Options) validate() error {
	for _, v := range []float64{o.Width, o.Height} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v > MaxSide {
			return fmt.Errorf("check stamp size %gx%g: %w", o.Width, o.Height, ErrInvalidOptions)
		}
	}
	if o.Width < MinWidth || o.Height < MinHeight {
		return fmt.Errorf("check stamp size %gx%g: below %dx%d: %w",
			o.Width, o.Height, MinWidth, MinHeight, ErrInvalidOptions)
	}
	if strings.TrimSpace(clean(o.NameArabic)) == "" && strings.TrimSpace(clean(o.NameLatin)) == "" {
		return fmt.Errorf("check signer name: both names empty: %w", ErrInvalidOptions)
	}
	for _, f := range []struct{ name, v string }{
		{"arabic name", o.NameArabic}, {"latin name", o.NameLatin}, {"reason", o.Reason},
	} {
		if len(f.v) > MaxTextBytes {
			return fmt.Errorf("check %s: %d bytes: %w", f.name, len(f.v), ErrInvalidOptions)
		}
	}
	if len(o.VerifyURL) > MaxURLBytes {
		return fmt.Errorf("check verify url: %d bytes: %w", len(o.VerifyURL), ErrInvalidOptions)
	}
	if o.SigningTime.IsZero() {
		return fmt.Errorf("check signing time: zero: %w", ErrInvalidOptions)
	}
	return nil
}

// clean makes a string fit for one line: invalid UTF-8 becomes U+FFFD,
// control characters and line breaks become spaces, runs of space collapse,
// and bidi controls (embeddings, overrides, isolates, marks) are dropped:
// the stamp sets the direction of each line itself, and an override in a
// name could make it display as some other text.
func clean(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.Is(unicode.Bidi_Control, r) {
			continue
		}
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r) // invalid UTF-8 was decoded as U+FFFD
	}
	return b.String()
}

// Label texts. The Latin word comes last where a value follows, so that
// digits after it stay in left-to-right context (after an Arabic word the
// bidi algorithm would run them right to left).
const (
	labelSignedBy = "Digitally signed by / موقّع رقمياً من"
	labelDate     = "التاريخ / Date: "
	labelReason   = "السبب / Reason: "
)

// lines returns the stamp's lines in drawing order, top to bottom.
func (o Options) lines() []lineSpec {
	ls := []lineSpec{{text: labelSignedBy, scale: 0.72, gray: 0.35}}
	if n := clean(o.NameArabic); n != "" {
		ls = append(ls, lineSpec{text: n, scale: 1.15, rtl: true})
	}
	if n := clean(o.NameLatin); n != "" {
		ls = append(ls, lineSpec{text: n, scale: 1.0, auto: true})
	}
	ls = append(ls, lineSpec{text: labelDate + formatTime(o.SigningTime, o.Location), scale: 0.72, gray: 0.2})
	if r := clean(o.Reason); r != "" {
		ls = append(ls, lineSpec{text: labelReason + r, scale: 0.72, gray: 0.2})
	}
	return ls
}

// formatTime writes t in loc as "2006-01-02 15:04:05 -07:00" ("... UTC"
// at offset zero), followed by the zone abbreviation when it is a name
// (EET) and not just digits (+03).
func formatTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	abbr, off := t.Zone()
	if off == 0 {
		return t.Format("2006-01-02 15:04:05") + " UTC"
	}
	s := t.Format("2006-01-02 15:04:05 -07:00")
	if abbr != "" && unicode.IsLetter([]rune(abbr)[0]) {
		s += " " + abbr
	}
	return s
}
