package web

import (
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/natid"
	"github.com/thiqa/thiqa/web/internal/ui"
)

// fieldErrors maps a form field to the catalogue key of what is wrong
// with it.
type fieldErrors map[string]string

// proofingForm is the enrolment form as typed, to show again with its
// errors.
type proofingForm struct {
	Values map[string]string
	Errors fieldErrors
}

// proofingFields are the enrolment form's fields.
var proofingFields = []string{"national_id", "given_name", "surname", "given_name_ar", "surname_ar",
	"date_of_birth", "doc_type", "doc_number", "doc_expiry", "doc_check", "face_match"}

// parseProofing reads the enrolment form: digits in any script are
// normalised, and every field is checked so that the officer reads what
// is wrong in their language before the registration authority checks it
// again. now bounds the dates.
func parseProofing(form url.Values, now time.Time) (enrollment.Proofing, proofingForm) {
	f := proofingForm{Values: map[string]string{}, Errors: fieldErrors{}}
	for _, k := range proofingFields {
		v := form.Get(k)
		if len(v) > 256 {
			v = v[:256]
		}
		if !utf8.ValidString(v) {
			v = strings.ToValidUTF8(v, "")
		}
		f.Values[k] = strings.TrimSpace(v)
	}
	for _, k := range []string{"national_id", "date_of_birth", "doc_expiry", "doc_number"} {
		f.Values[k] = ui.Digits(f.Values[k])
	}
	v := f.Values
	nid, err := natid.Normalize(v["national_id"])
	if err != nil {
		f.Errors["national_id"] = "form.nid-bad"
	}
	for _, n := range []struct {
		field string
		latin bool
	}{{"given_name", true}, {"surname", true}, {"given_name_ar", false}, {"surname_ar", false}} {
		if key := checkName(v[n.field], n.latin); key != "" {
			f.Errors[n.field] = key
		}
	}
	dob, err := time.Parse(time.DateOnly, v["date_of_birth"])
	switch {
	case err != nil:
		f.Errors["date_of_birth"] = "form.date-bad"
	case dob.After(now) || dob.Before(now.AddDate(-130, 0, 0)):
		f.Errors["date_of_birth"] = "form.dob-range"
	}
	exp, err := time.Parse(time.DateOnly, v["doc_expiry"])
	switch {
	case err != nil:
		f.Errors["doc_expiry"] = "form.date-bad"
	case now.After(exp.Add(24 * time.Hour)):
		f.Errors["doc_expiry"] = "form.doc-expired"
	}
	if v["doc_type"] != "national-id-card" && v["doc_type"] != "passport" {
		f.Errors["doc_type"] = "form.choose"
	}
	v["doc_number"] = strings.ToUpper(v["doc_number"])
	if !docNumber(v["doc_number"]) {
		f.Errors["doc_number"] = "form.doc-number-bad"
	}
	for _, k := range []string{"doc_check", "face_match"} {
		if v[k] != "pass" && v[k] != "fail" {
			f.Errors[k] = "form.choose"
		}
	}
	p := enrollment.Proofing{NationalID: nid, GivenName: v["given_name"], Surname: v["surname"],
		GivenNameAr: v["given_name_ar"], SurnameAr: v["surname_ar"], DateOfBirth: v["date_of_birth"],
		DocType: v["doc_type"], DocNumber: v["doc_number"], DocExpiry: v["doc_expiry"],
		DocCheck: v["doc_check"], FaceMatch: v["face_match"]}
	return p, f
}

// checkName returns the catalogue key of what is wrong with a name, or
// "": 1 to 64 letters of its script, spaces, hyphens and apostrophes.
func checkName(v string, latin bool) string {
	n := utf8.RuneCountInString(v)
	if n == 0 {
		return "form.required"
	}
	if n > 64 {
		return "form.too-long"
	}
	script, key := unicode.Arabic, "form.arabic-only"
	if latin {
		script, key = unicode.Latin, "form.latin-only"
	}
	for _, r := range v {
		if !unicode.Is(script, r) && r != ' ' && r != '-' && r != '\'' {
			return key
		}
	}
	return ""
}

func docNumber(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// field returns a short form value, digits normalised, or "" when it is
// longer than max bytes.
func field(form url.Values, name string, max int) string {
	v := ui.Digits(form.Get(name))
	if len(v) > max || !utf8.ValidString(v) {
		return ""
	}
	return v
}
