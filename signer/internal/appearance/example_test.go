package appearance_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/thiqa/thiqa/signer/internal/appearance"
)

// The PDF writer numbers the objects and replaces "{{ref N}}" with the
// reference of Objects[N]; Objects[0] becomes the widget's /AP << /N ... >>.
func ExampleBuild() {
	st, err := appearance.Build(appearance.Options{
		Width: 260, Height: 90,
		NameArabic:  "عبد الله سلامة",
		NameLatin:   "Abdullah Salameh",
		SigningTime: time.Date(2026, 11, 23, 18, 30, 5, 0, time.UTC),
		Reason:      "Approval",
		VerifyURL:   "https://verify.thiqa.jo/s/7f3a9c2e41",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Contains(st.Objects[0].Dict, "/Subtype /Form"), len(st.Objects))
	for _, line := range st.Text() {
		fmt.Println(line)
	}
	// Output:
	// true 6
	// Digitally signed by / موقّع رقمياً من
	// عبد الله سلامة
	// Abdullah Salameh
	// التاريخ / Date: 2026-11-23 18:30:05 UTC
	// السبب / Reason: Approval
}
