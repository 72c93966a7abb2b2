package requests

import (
	"fmt"
	"strings"
	"time"

	"github.com/thiqa/thiqa/platform/internal/onepage"
)

// FormData is what the application form shows.
type FormData struct {
	RequestID              string
	ServiceCode            string
	ServiceNameEn          string
	ServiceNameAr          string
	AgencyName             string
	GivenName, Surname     string // Latin script, as enrolled
	GivenNameAr, SurnameAr string
	NationalID             string
	FeeFils                int64
	Created                time.Time
	RequiredDocuments      []string
}

// SignatureRect is where the form leaves room for the citizen's visible
// signature on page 1 (the signing service draws its bilingual stamp,
// with the Arabic name shaped, at this rectangle).
var SignatureRect = [4]float64{36, 36, 276, 126}

// Form writes the application form as a one-page PDF 1.7 (A4) with the
// standard Helvetica fonts. The page text is in Latin script: the
// standard fonts have no Arabic glyphs, and shaping Arabic needs an
// embedded font and a shaper this package does not have. The Arabic
// service and applicant names go in the document information
// (/Subject, UTF-16), and the citizen's visible signature stamp shows
// the Arabic name shaped. The output depends only on d, so the same data
// gives the same bytes.
func Form(d FormData) []byte {
	var c onepage.Page
	c.Text(true, 15, 50, 790, "Hashemite Kingdom of Jordan")
	c.Text(true, 13, 50, 770, "Application for a government service")
	c.Text(false, 9, 50, 752, "Prepared by Thiqa, the national trust service. Request "+d.RequestID)
	c.Line(50, 742, 545, 742)
	y := 715.0
	row := func(label, value string) {
		c.Text(true, 11, 50, y, label)
		c.Text(false, 11, 190, y, value)
		y -= 20
	}
	row("Service", d.ServiceCode+" - "+d.ServiceNameEn)
	row("Agency", d.AgencyName)
	row("Applicant", strings.TrimSpace(d.GivenName+" "+d.Surname))
	row("National number", d.NationalID)
	row("Date", d.Created.UTC().Format("2 January 2006, 15:04 MST"))
	row("Fee", fee(d.FeeFils))
	if len(d.RequiredDocuments) > 0 {
		row("Documents", strings.Join(d.RequiredDocuments, ", "))
	}
	y -= 10
	for _, l := range []string{
		"I, the applicant named above, apply for this service and declare that the information",
		"in this application is true and complete. I sign this application electronically with",
		"my Thiqa signing certificate; my signature applies to this document as prepared by Thiqa.",
	} {
		c.Text(false, 10, 50, y, l)
		y -= 15
	}
	c.Text(false, 8, 50, y-10, "Arabic names of the service and the applicant are in the document properties and the signature stamp.")
	c.Text(true, 10, SignatureRect[0], SignatureRect[3]+10, "Applicant's signature")
	c.Rect(SignatureRect)
	return c.PDF(info("Application "+d.RequestID+": "+d.ServiceCode, d))
}

// Decision writes the result document an agency's acceptance gives when
// the agency uploads none: a one-page PDF saying that the request was
// accepted, with the agency's note, to be sealed with its e-seal.
func Decision(d FormData, note string, decided time.Time) []byte {
	var c onepage.Page
	c.Text(true, 15, 50, 790, "Hashemite Kingdom of Jordan")
	c.Text(true, 13, 50, 770, "Decision on a service request")
	c.Text(false, 9, 50, 752, "Issued through Thiqa. Request "+d.RequestID)
	c.Line(50, 742, 545, 742)
	y := 715.0
	for _, kv := range [][2]string{
		{"Service", d.ServiceCode + " - " + d.ServiceNameEn},
		{"Agency", d.AgencyName},
		{"Applicant", d.NationalID},
		{"Decision", "Accepted"},
		{"Date", decided.UTC().Format("2 January 2006, 15:04 MST")},
	} {
		c.Text(true, 11, 50, y, kv[0])
		c.Text(false, 11, 190, y, kv[1])
		y -= 20
	}
	for rest := []rune(note); len(rest) > 0 && y > 150; y -= 15 {
		n := min(len(rest), 90)
		c.Text(false, 10, 50, y, string(rest[:n]))
		rest = rest[n:]
	}
	c.Text(false, 8, 50, 120, "This document is sealed with the agency's electronic seal; verify it at the Thiqa verification page.")
	return c.PDF(info("Decision "+d.RequestID+": "+d.ServiceCode, d))
}

func fee(fils int64) string {
	if fils <= 0 {
		return "none"
	}
	return fmt.Sprintf("%d.%03d JOD", fils/1000, fils%1000)
}

// info is the document information of a form or decision about d: the
// Arabic service and applicant names in /Subject, the applicant as /Author.
func info(title string, d FormData) onepage.Info {
	return onepage.Info{Title: title,
		Subject: strings.TrimSpace("طلب خدمة: " + d.ServiceNameAr + " - مقدم الطلب: " + strings.TrimSpace(d.GivenNameAr+" "+d.SurnameAr)),
		Author:  strings.TrimSpace(d.GivenName + " " + d.Surname), Created: d.Created}
}
