package appearance

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-text/typesetting/font"
)

func typicalOptions() Options {
	return Options{
		Width: 260, Height: 90,
		NameArabic:  "عبد الله سلامة الخلايلة",
		NameLatin:   "Abdullah Salameh Al-Khalayleh",
		SigningTime: pinnedTime,
		Reason:      "الموافقة على الطلب",
		VerifyURL:   "https://verify.thiqa.jo/s/7f3a9c2e41",
	}
}

func TestBuildRejectsInvalidOptions(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Options)
	}{
		{"zero width", func(o *Options) { o.Width = 0 }},
		{"negative height", func(o *Options) { o.Height = -10 }},
		{"NaN width", func(o *Options) { o.Width = math.NaN() }},
		{"infinite height", func(o *Options) { o.Height = math.Inf(1) }},
		{"too small", func(o *Options) { o.Width, o.Height = 20, 10 }},
		{"absurdly wide", func(o *Options) { o.Width = 1e6 }},
		{"absurdly tall", func(o *Options) { o.Height = MaxSide + 1 }},
		{"no names", func(o *Options) { o.NameArabic, o.NameLatin = "", "" }},
		{"blank names", func(o *Options) { o.NameArabic, o.NameLatin = " \t", "\n\u00a0\x00" }},
		{"arabic name too long", func(o *Options) { o.NameArabic = strings.Repeat("ع", MaxTextBytes) }},
		{"latin name too long", func(o *Options) { o.NameLatin = strings.Repeat("a", MaxTextBytes+1) }},
		{"reason too long", func(o *Options) { o.Reason = strings.Repeat("r", MaxTextBytes+1) }},
		{"url too long", func(o *Options) { o.VerifyURL = "https://x/" + strings.Repeat("u", MaxURLBytes) }},
		{"no signing time", func(o *Options) { o.SigningTime = time.Time{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := typicalOptions()
			tc.change(&o)
			st, err := Build(o)
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("Build = %v, %v; want ErrInvalidOptions", st, err)
			}
		})
	}
}

func TestBuildAcceptsEdgeOptions(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Options)
	}{
		{"smallest", func(o *Options) { o.Width, o.Height = MinWidth, MinHeight }},
		{"largest", func(o *Options) { o.Width, o.Height = MaxSide, MaxSide }},
		{"arabic only", func(o *Options) { o.NameLatin = "" }},
		{"latin only", func(o *Options) { o.NameArabic = "" }},
		{"no url", func(o *Options) { o.VerifyURL = "" }},
		{"no reason", func(o *Options) { o.Reason = "" }},
		{"longest texts", func(o *Options) {
			o.NameArabic = strings.Repeat("لا", MaxTextBytes/4)
			o.NameLatin = strings.Repeat("x", MaxTextBytes)
			o.Reason = strings.Repeat("ب ", MaxTextBytes/3)
			o.VerifyURL = "https://x/" + strings.Repeat("u", MaxURLBytes-10)
		}},
		{"glyphs missing from the font", func(o *Options) { o.NameLatin = "王小明 😀" }},
		{"invalid utf-8 and controls", func(o *Options) { o.NameLatin = "a\xffb\x00c\u202ed\u2067" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := typicalOptions()
			tc.change(&o)
			st, err := Build(o)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			checkStamp(t, st, o)
		})
	}
}

var refRE = regexp.MustCompile(`\{\{ref (\d+)\}\}`)

// checkStamp checks the contract with the PDF writer and the font subset.
func checkStamp(t *testing.T, st *Stamp, o Options) {
	t.Helper()
	if len(st.Objects) == 0 {
		t.Fatal("no objects")
	}
	x := st.Objects[0].Dict
	bbox := "/BBox [0 0 " + string(num(nil, o.Width)) + " " + string(num(nil, o.Height)) + "]"
	for _, want := range []string{"/Type /XObject", "/Subtype /Form", bbox, "/Resources"} {
		if !strings.Contains(x, want) {
			t.Errorf("form XObject lacks %q: %s", want, x)
		}
	}
	if st.Objects[0].Stream == nil {
		t.Error("form XObject is not a stream")
	}
	for i, obj := range st.Objects {
		if !strings.HasPrefix(obj.Dict, "<<") || !strings.HasSuffix(obj.Dict, ">>") {
			t.Errorf("object %d: not a dictionary: %q", i, obj.Dict)
		}
		if strings.Contains(obj.Dict, "/Length ") {
			t.Errorf("object %d has /Length: %s", i, obj.Dict)
		}
		for _, m := range refRE.FindAllStringSubmatch(obj.Dict, -1) {
			n, err := strconv.Atoi(m[1])
			if err != nil || n <= 0 || n >= len(st.Objects) || n == i {
				t.Errorf("object %d: bad reference %s", i, m[0])
			}
		}
		if strings.Contains(obj.Dict, "/FlateDecode") {
			if _, err := inflate(obj.Stream); err != nil {
				t.Errorf("object %d: %v", i, err)
			}
		}
	}
	if n := st.Size(); n > 60<<10 {
		t.Errorf("stamp is %d bytes, want under 60 KiB", n)
	}
	checkSubset(t, st)
}

func inflate(b []byte) ([]byte, error) {
	r, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(r, 1<<22))
}

// checkSubset parses the embedded font file independently and checks that
// it is a small subset, not the whole of DejaVu Sans.
func checkSubset(t *testing.T, st *Stamp) {
	t.Helper()
	var file []byte
	for _, obj := range st.Objects {
		if strings.Contains(obj.Dict, "/Length1") {
			b, err := inflate(obj.Stream)
			if err != nil {
				t.Fatalf("inflate font file: %v", err)
			}
			file = b
		}
		if strings.Contains(obj.Dict, "/FontFile2") && !strings.Contains(obj.Dict, "/FontDescriptor") {
			t.Errorf("font descriptor malformed: %s", obj.Dict)
		}
	}
	if file == nil {
		t.Fatal("no /FontFile2 stream")
	}
	face, err := font.ParseTTF(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("subset does not parse: %v", err)
	}
	full, err := theFont()
	if err != nil {
		t.Fatal(err)
	}
	if int(face.Upem()) != full.ttf.upem {
		t.Errorf("subset units per em %d, want %d", face.Upem(), full.ttf.upem)
	}
	sub, err := parseSFNT(file)
	if err != nil {
		t.Fatalf("subset does not parse: %v", err)
	}
	if sub.numGlyphs >= full.ttf.numGlyphs/4 || len(file) > 200<<10 {
		t.Errorf("subset has %d of %d glyphs, %d bytes", sub.numGlyphs, full.ttf.numGlyphs, len(file))
	}
}

func TestText(t *testing.T) {
	amman := time.FixedZone("+03", 3*3600)
	athens := time.FixedZone("EET", 2*3600)
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{
			name: "utc",
			opts: typicalOptions(),
			want: []string{labelSignedBy, "عبد الله سلامة الخلايلة", "Abdullah Salameh Al-Khalayleh",
				labelDate + "2026-11-23 18:30:05 UTC", labelReason + "الموافقة على الطلب"},
		},
		{
			name: "amman, no reason, no arabic",
			opts: Options{Width: 300, Height: 80, NameLatin: " Jane\n Doe ", SigningTime: pinnedTime, Location: amman},
			want: []string{labelSignedBy, "Jane Doe", labelDate + "2026-11-23 21:30:05 +03:00"},
		},
		{
			name: "bidi controls dropped",
			opts: Options{Width: 300, Height: 80, NameLatin: "Ali\u202e Reza\u202c\u200f", SigningTime: pinnedTime},
			want: []string{labelSignedBy, "Ali Reza", labelDate + "2026-11-23 18:30:05 UTC"},
		},
		{
			name: "named zone",
			opts: Options{Width: 300, Height: 80, NameArabic: "ليلى", SigningTime: pinnedTime, Location: athens},
			want: []string{labelSignedBy, "ليلى", labelDate + "2026-11-23 20:30:05 +02:00 EET"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Build(tc.opts)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if got := st.Text(); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Text() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFitShrinksBeforeTruncating(t *testing.T) {
	name := "Abdulrahman bin Abdulaziz bin Mohammad Al-Hashemi"
	tests := []struct {
		name          string
		width, height float64
		wantEllipsis  bool
	}{
		{"wide enough", 600, 90, false},
		{"shrinks", 260, 90, false},
		{"truncates", 80, 40, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := typicalOptions()
			o.Width, o.Height, o.NameLatin = tc.width, tc.height, name
			st, err := Build(o)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			got := st.Text()[2]
			if cut := strings.HasSuffix(got, ellipsis); cut != tc.wantEllipsis {
				t.Errorf("latin line = %q, ellipsis %v, want %v", got, cut, tc.wantEllipsis)
			}
			if !tc.wantEllipsis && got != name {
				t.Errorf("latin line = %q, want %q", got, name)
			}
		})
	}
}

func TestLayoutPlacesQR(t *testing.T) {
	tests := []struct {
		name          string
		width, height float64
		left, bottom  bool // QR at the left (wide) or at the bottom (tall)
	}{
		{"wide", 260, 90, true, false},
		{"square", 120, 120, true, false},
		{"tall", 100, 220, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLayout(Options{Width: tc.width, Height: tc.height}, true)
			if l.qrSide <= 0 || l.qrX < 0 || l.qrY < 0 ||
				l.qrX+l.qrSide > tc.width || l.qrY+l.qrSide > tc.height {
				t.Fatalf("QR box %v,%v side %v outside %vx%v", l.qrX, l.qrY, l.qrSide, tc.width, tc.height)
			}
			if tc.left && l.tx0 < l.qrX+l.qrSide {
				t.Errorf("text starts at x=%v, inside the QR box", l.tx0)
			}
			if tc.bottom && l.ty0 < l.qrY+l.qrSide {
				t.Errorf("text starts at y=%v, inside the QR box", l.ty0)
			}
			if l.tx1 <= l.tx0 || l.ty1 <= l.ty0 {
				t.Errorf("empty text box %v", l)
			}
		})
	}
}

func TestToUnicodeMapsLigatureAndMissingGlyphs(t *testing.T) {
	o := typicalOptions()
	o.NameArabic = "سلام"  // lam-alef ligature
	o.NameLatin = "王 Wang" // no glyph in DejaVu Sans: drawn as .notdef, still extractable
	st, err := Build(o)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	var cmap []byte
	for _, obj := range st.Objects {
		if !strings.Contains(obj.Dict, "/Length1") && obj.Stream != nil && !strings.Contains(obj.Dict, "/XObject") {
			if cmap, err = inflate(obj.Stream); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, want := range []string{"<0644>", "<0627>", "<738B>", "begincmap"} {
		if !bytes.Contains(cmap, []byte(want)) {
			t.Errorf("ToUnicode lacks %s:\n%s", want, cmap)
		}
	}
}

func TestBuildIsDeterministicAndConcurrent(t *testing.T) {
	names := []string{"أحمد", "فاطمة الزهراء", "سلامة", "عمر ٣", "ليلى"}
	want := make([]*Stamp, len(names))
	for i, n := range names {
		o := typicalOptions()
		o.NameArabic = n
		st, err := Build(o)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		want[i] = st
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4*len(names))
	for r := 0; r < 4; r++ {
		for i, n := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o := typicalOptions()
				o.NameArabic = n
				st, err := Build(o)
				if err != nil {
					errs <- err.Error()
					return
				}
				for k := range st.Objects {
					if st.Objects[k].Dict != want[i].Objects[k].Dict ||
						!bytes.Equal(st.Objects[k].Stream, want[i].Objects[k].Stream) {
						errs <- "stamp for " + n + " differs between calls"
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
