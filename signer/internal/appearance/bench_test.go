package appearance

import (
	"strings"
	"testing"
)

func benchOptions() Options {
	return Options{
		Width: 260, Height: 90,
		NameArabic:  "عبد الله سلامة الخلايلة",
		NameLatin:   "Abdullah Salameh Al-Khalayleh",
		SigningTime: pinnedTime,
		Reason:      "الموافقة على الطلب",
		VerifyURL:   "https://verify.thiqa.jo/s/7f3a9c2e41",
	}
}

// BenchmarkBuild measures one stamp, as drawn for every signature.
func BenchmarkBuild(b *testing.B) {
	long := benchOptions()
	long.NameArabic = strings.Repeat("عبد الرحمن بن عبد العزيز ", 6)
	long.NameLatin = strings.Repeat("Abdulrahman bin Abdulaziz ", 6)
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"typical", benchOptions()},
		{"long-names", long},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := Build(bc.opts); err != nil { // parse the font once
				b.Fatal(err)
			}
			b.ReportAllocs()
			size := 0
			for b.Loop() {
				st, err := Build(bc.opts)
				if err != nil {
					b.Fatal(err)
				}
				size = st.Size()
			}
			b.ReportMetric(float64(size), "stamp-bytes")
		})
	}
}
