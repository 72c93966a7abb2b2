package signer

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// AppearanceInfo is what an [AppearanceFunc] gets to draw a stamp.
type AppearanceInfo struct {
	Width, Height float64 // points: the widget rectangle's size
	Time          time.Time
	FieldName     string
	// ID identifies the signature for verification (see
	// [Prepared.SignatureID]).
	ID string
}

// AppearanceObject is one indirect object of an appearance. Dict is a
// dictionary in PDF syntax; "{{ref N}}" in it stands for a reference to
// object N of the same appearance. A non-nil Stream makes a stream (the
// signer adds /Length). Object 0 is the form XObject used as /AP /N.
type AppearanceObject struct {
	Dict   string
	Stream []byte
}

// AppearanceFunc draws the visible signature appearance.
type AppearanceFunc func(AppearanceInfo) ([]AppearanceObject, error)

var refPattern = regexp.MustCompile(`\{\{ref ([0-9]+)\}\}`)

// addAppearance writes the appearance objects and returns the reference
// of the form XObject.
func addAppearance(u *update, f AppearanceFunc, info AppearanceInfo) (pdf.Ref, error) {
	objs, err := f(info)
	if err != nil {
		return pdf.Ref{}, fmt.Errorf("build appearance: %w", err)
	}
	if len(objs) == 0 {
		return pdf.Ref{}, fmt.Errorf("build appearance: no objects")
	}
	refs := make([]pdf.Ref, len(objs))
	for i := range objs {
		refs[i] = u.reserve()
	}
	for i, o := range objs {
		d := strings.TrimSpace(o.Dict)
		if !strings.HasPrefix(d, "<<") || !strings.HasSuffix(d, ">>") {
			return pdf.Ref{}, fmt.Errorf("build appearance: object %d is not a dictionary", i)
		}
		var bad error
		d = refPattern.ReplaceAllStringFunc(d, func(m string) string {
			n, _ := strconv.Atoi(refPattern.FindStringSubmatch(m)[1])
			if n < 0 || n >= len(refs) {
				bad = fmt.Errorf("build appearance: reference to object %d of %d", n, len(refs))
				return "null"
			}
			return refs[n].String()
		})
		if bad != nil {
			return pdf.Ref{}, bad
		}
		if o.Stream == nil {
			u.set(refs[i], rawObject(d))
			continue
		}
		b := []byte(d[:len(d)-2])
		b = append(b, " /Length "...)
		b = strconv.AppendInt(b, int64(len(o.Stream)), 10)
		b = append(b, ">>\nstream\n"...)
		b = append(b, o.Stream...)
		b = append(b, "\nendstream"...)
		u.set(refs[i], rawObject(b))
	}
	return refs[0], nil
}
