package appearance

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/thiqa/thiqa/internal/testtool"
)

// pinnedTime is the signing time of all test stamps.
var pinnedTime = time.Date(2026, 11, 23, 18, 30, 5, 0, time.UTC)

// writeTestPDF writes a one-page PDF that draws the stamp as a form
// XObject, with a margin around it, and returns its path.
func writeTestPDF(t *testing.T, st *Stamp, w, h float64, path string) {
	t.Helper()
	const first = 6 // object number of Objects[0]
	var buf bytes.Buffer
	buf.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := map[int]int{}
	obj := func(n int, dict string, stream []byte) {
		offsets[n] = buf.Len()
		if stream == nil {
			fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", n, dict)
			return
		}
		d := strings.TrimSuffix(strings.TrimSpace(dict), ">>")
		fmt.Fprintf(&buf, "%d 0 obj\n%s /Length %d >>\nstream\n", n, d, len(stream))
		buf.Write(stream)
		buf.WriteString("\nendstream\nendobj\n")
	}
	ref := regexp.MustCompile(`\{\{ref (\d+)\}\}`)
	resolve := func(s string) string {
		return ref.ReplaceAllStringFunc(s, func(m string) string {
			i, err := strconv.Atoi(ref.FindStringSubmatch(m)[1])
			if err != nil || i < 0 || i >= len(st.Objects) {
				t.Fatalf("bad reference %q", m)
			}
			return fmt.Sprintf("%d 0 R", first+i)
		})
	}
	pw, ph := w+40, h+40
	page := "q 1 0 0 1 20 20 cm /Stamp Do Q\n"
	obj(1, "<< /Type /Catalog /Pages 2 0 R >>", nil)
	obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", nil)
	obj(3, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] "+
		"/Resources << /XObject << /Stamp %d 0 R >> >> /Contents 4 0 R >>", pw, ph, first), nil)
	obj(4, "<< >>", []byte(page))
	obj(5, "<< /Producer (thiqa appearance test) >>", nil)
	for i, o := range st.Objects {
		obj(first+i, resolve(o.Dict), o.Stream)
	}
	n := first + len(st.Objects)
	xref := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 %d\n0000000000 65535 f \n", n)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&buf, "%010d 00000 n \n", offsets[i])
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n", n, xref)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// squash removes white space, since extraction tools differ in where they
// put spaces between glyphs.
func squash(s string) string {
	return strings.Join(strings.Fields(s), "")
}

// decodeQR reads the QR code in a rendered page.
func decodeQR(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open rendering: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode rendering: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatalf("binarize rendering: %v", err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR code: %v", err)
	}
	return res.GetText()
}

func TestStampWithTools(t *testing.T) {
	qpdf := testtool.Require(t, "qpdf")
	pdftotext := testtool.Require(t, "pdftotext")
	pdftoppm := testtool.Require(t, "pdftoppm")
	pdffonts := testtool.Require(t, "pdffonts")
	amman, err := time.LoadLocation("Asia/Amman")
	if err != nil {
		amman = time.FixedZone("+03", 3*3600)
	}
	tests := []struct {
		name string
		opts Options
		want []string // substrings of the extracted text (spaces ignored)
		// poppler's own reordering: words of lines that mix directions
		// or carry Arabic marks (harakat) come out of line; only want is
		// checked for those
		onlyWant bool
	}{
		{
			name: "lam-alef",
			opts: Options{Width: 260, Height: 90, NameArabic: "عبد الله سلامة الخلايلة",
				NameLatin: "Abdullah Salameh Al-Khalayleh", Reason: "الموافقة على الطلب",
				Location: amman, VerifyURL: "https://verify.thiqa.jo/s/7f3a9c2e41"},
			want: []string{"عبد الله سلامة الخلايلة", "Abdullah Salameh Al-Khalayleh", "2026-11-23"},
		},
		{
			name: "latin-only",
			opts: Options{Width: 200, Height: 60, NameLatin: "Jane Q. Public",
				Reason: "I approve", VerifyURL: "https://verify.thiqa.jo/s/1"},
			want: []string{"Jane Q. Public", "I approve", "Digitally signed by"},
		},
		{
			name: "mixed-digits",
			opts: Options{Width: 240, Height: 80, NameArabic: "محمد ٣ أحمد 2026",
				NameLatin: "Mohammad III Ahmad 2026", Reason: "Invoice 42 / فاتورة 42",
				VerifyURL: "https://verify.thiqa.jo/s/42"},
			want: []string{"محمد", "أحمد", "Mohammad III Ahmad 2026", "Invoice 42"},
		},
		{
			name: "long-names",
			opts: Options{Width: 180, Height: 70,
				NameArabic: strings.Repeat("عبد الرحمن بن عبد العزيز ", 6),
				NameLatin:  strings.Repeat("Abdulrahman bin Abdulaziz ", 6),
				Reason:     "Long names must shrink and then end with an ellipsis",
				VerifyURL:  "https://verify.thiqa.jo/s/" + strings.Repeat("a", 80)},
			want: []string{"Abdulrahman bin", "…"},
		},
		{
			name: "diacritics",
			opts: Options{Width: 220, Height: 80, NameArabic: "مُحَمَّد عَبْدُ الإِلَٰه", NameLatin: "Muhammad Abd al-Ilah",
				VerifyURL: "https://verify.thiqa.jo/s/3"},
			want:     []string{"Muhammad Abd al-Ilah", "الإِ"},
			onlyWant: true,
		},
		{
			name: "tall",
			opts: Options{Width: 120, Height: 200, NameArabic: "ليلى", NameLatin: "Layla",
				VerifyURL: "https://verify.thiqa.jo/s/2"},
			want: []string{"ليلى", "Layla"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.SigningTime = pinnedTime
			st, err := Build(tc.opts)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			dir := t.TempDir()
			pdf := filepath.Join(dir, tc.name+".pdf")
			writeTestPDF(t, st, tc.opts.Width, tc.opts.Height, pdf)
			run(t, qpdf, "--check", pdf)

			// One embedded subset with ToUnicode: "CID TrueType Identity-H yes yes yes".
			fonts := strings.Fields(strings.Join(strings.Split(run(t, pdffonts, pdf), "\n")[2:], " "))
			if got := strings.Join(fonts, " "); !regexp.MustCompile(`^[A-Z]{6}\+DejaVuSans CID TrueType Identity-H yes yes yes`).MatchString(got) {
				t.Errorf("pdffonts: %s", got)
			}

			text := run(t, pdftotext, "-enc", "UTF-8", pdf, "-")
			for _, w := range tc.want {
				if !strings.Contains(squash(text), squash(w)) {
					t.Errorf("pdftotext output lacks %q:\n%s", w, text)
				}
			}
			// Lines mixing directions come out in an order of poppler's
			// choosing; each word must come out whole, in logical order.
			for _, l := range st.Text() {
				if tc.onlyWant {
					break
				}
				for _, w := range strings.Fields(strings.ReplaceAll(l, ellipsis, " ")) {
					if !strings.Contains(squash(text), w) {
						t.Errorf("word %q of drawn line %q not extracted:\n%s", w, l, text)
					}
				}
			}

			prefix := filepath.Join(dir, tc.name)
			run(t, pdftoppm, "-png", "-r", "100", "-singlefile", pdf, prefix)
			png := prefix + ".png"
			// Decode at print resolution: at 100 dpi the modules of a
			// small stamp are under two pixels.
			hires := prefix + "-300"
			run(t, pdftoppm, "-png", "-r", "300", "-singlefile", pdf, hires)
			if got := decodeQR(t, hires+".png"); got != tc.opts.VerifyURL {
				t.Errorf("QR code in rendering = %q, want %q", got, tc.opts.VerifyURL)
			}
			if a := os.Getenv("THIQA_ARTIFACTS"); a != "" {
				for _, f := range []string{png, pdf} {
					data, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(a, "appearance-"+filepath.Base(f)), data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}
