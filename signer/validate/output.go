package validate

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteJSON writes the report in the JSON schema [SchemaVersion],
// indented.
func (r *Report) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	if err := e.Encode(r); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// WriteText writes the report as plain text for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	name := r.File
	if name == "" {
		name = "(input)"
	}
	fmt.Fprintf(&b, "%s: %s", name, r.Indication)
	if r.SubIndication != "" {
		fmt.Fprintf(&b, " / %s", r.SubIndication)
	}
	fmt.Fprintf(&b, "\n  %s\n  %s\n", r.Explanation.EN, r.Explanation.AR)
	if r.Problem != "" {
		fmt.Fprintf(&b, "  problem: %s\n", r.Problem)
	}
	for _, s := range r.Signatures {
		fmt.Fprintf(&b, "\n  [%d] %s %q (%s, %s), revision %d of %d\n", s.Index, s.Kind, s.Field, s.SubFilter, s.Level, s.Revision, r.Revisions)
		fmt.Fprintf(&b, "      %s", s.Indication)
		if s.SubIndication != "" {
			fmt.Fprintf(&b, " / %s", s.SubIndication)
		}
		fmt.Fprintf(&b, "\n      %s\n      %s\n", s.Explanation.EN, s.Explanation.AR)
		if s.Signer != nil {
			fmt.Fprintf(&b, "      signer: %s (valid %s to %s)\n", s.Signer.Subject, day(s.Signer.NotBefore), day(s.Signer.NotAfter))
		}
		if s.ClaimedTime != nil {
			fmt.Fprintf(&b, "      claimed time: %s\n", s.ClaimedTime.Format(time.RFC3339))
		}
		if !s.BestSignatureTime.IsZero() {
			fmt.Fprintf(&b, "      best signature time: %s\n", s.BestSignatureTime.Format(time.RFC3339))
		}
		c := s.Checks
		fmt.Fprintf(&b, "      checks: byte range %s, digest %s, signature %s, signing certificate %s, chain %s, revocation %s, modifications %s\n",
			c.ByteRange, c.Digest, c.SignatureValue, c.SigningCertificate, c.Chain, c.Revocation, c.Modifications)
		for _, t := range s.Timestamps {
			fmt.Fprintf(&b, "      %s time-stamp %s by %s (valid %v, trusted %v)\n", t.Kind, t.Time.Format(time.RFC3339), t.TSA, t.Valid, t.Trusted)
			for _, rv := range t.TSARevocation {
				fmt.Fprintf(&b, "        revocation of %s: %s (%s)\n", rv.Subject, rv.Status, rv.Source)
			}
			if t.SubIndication != "" {
				fmt.Fprintf(&b, "        no proof of existence, %s: %s\n", t.SubIndication, t.Problem)
			}
		}
		for _, rv := range s.Revocation {
			fmt.Fprintf(&b, "      revocation of %s: %s (%s)\n", rv.Subject, rv.Status, rv.Source)
		}
		for _, m := range s.Modifications {
			mark := "allowed"
			if !m.Allowed {
				mark = "NOT ALLOWED"
			}
			fmt.Fprintf(&b, "      revision %d: %s (%s) %s\n", m.Revision, m.Kind, mark, m.Detail)
		}
		for _, f := range s.Findings {
			fmt.Fprintf(&b, "      - %s\n", f)
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write text report: %w", err)
	}
	return nil
}

func day(t time.Time) string { return t.Format("2006-01-02") }

// ETSI TS 119 102-2 namespaces and URIs.
const (
	etsiNS       = "http://uri.etsi.org/19102/v1.2.1#"
	dsNS         = "http://www.w3.org/2000/09/xmldsig#"
	mainIndURI   = "urn:etsi:019102:mainindication:"
	subIndURI    = "urn:etsi:019102:subindication:"
	poeValidator = "urn:etsi:019102:poetype:validation"
	poeProvided  = "urn:etsi:019102:poetype:provided"
)

type xmlReport struct {
	XMLName    xml.Name       `xml:"ValidationReport"`
	NS         string         `xml:"xmlns,attr"`
	DS         string         `xml:"xmlns:ds,attr"`
	Signatures []xmlSignature `xml:"SignatureValidationReport"`
	Validator  xmlValidator   `xml:"SignatureValidator"`
}

type xmlValidator struct {
	DigitalID struct {
		Other string `xml:"Other"`
	} `xml:"DigitalId"`
}

type xmlSignature struct {
	Identifier struct {
		ID        string `xml:"id,attr"`
		Digest    xmlDigest
		SigValue  string `xml:"ds:SignatureValue,omitempty"`
		HashOnly  bool   `xml:"HashOnly"`
		DocHash   bool   `xml:"DocHashOnly"`
		DAIdentif string `xml:"DAIdentifier,omitempty"`
	} `xml:"SignatureIdentifier"`
	TimeInfo struct {
		ValidationTime string `xml:"ValidationTime"`
		Best           *struct {
			POETime     string `xml:"POETime"`
			TypeOfProof string `xml:"TypeOfProof"`
		} `xml:"BestSignatureTime,omitempty"`
	} `xml:"ValidationTimeInfo"`
	Attributes *struct {
		SigningTime *struct {
			Signed bool   `xml:"Signed,attr"`
			Time   string `xml:"Time"`
		} `xml:"SigningTime,omitempty"`
		Reason   *xmlAttrText `xml:"Reason,omitempty"`
		Location *xmlAttrText `xml:"SignatureProductionPlace,omitempty"`
	} `xml:"SignatureAttributes,omitempty"`
	Signer *struct {
		Signer string `xml:"Signer"`
	} `xml:"SignerInformation,omitempty"`
	Status struct {
		Main    string   `xml:"MainIndication"`
		Sub     []string `xml:"SubIndication,omitempty"`
		Reports []struct {
			Info string `xml:"AdditionalValidationReportData>ReportData>Value"`
		} `xml:"AssociatedValidationReportData,omitempty"`
	} `xml:"SignatureValidationStatus"`
}

type xmlDigest struct {
	XMLName xml.Name `xml:"DigestAlgAndValue"`
	Method  struct {
		Algorithm string `xml:"Algorithm,attr"`
	} `xml:"ds:DigestMethod"`
	Value string `xml:"ds:DigestValue"`
}

type xmlAttrText struct {
	Signed bool   `xml:"Signed,attr"`
	Text   string `xml:",chardata"`
}

// WriteXML writes the report as an ETSI TS 119 102-2 validation report
// (a subset: signature identifier, validation time, attributes, signer
// and status per signature).
func (r *Report) WriteXML(w io.Writer) error {
	x := xmlReport{NS: etsiNS, DS: dsNS}
	x.Validator.DigitalID.Other = "Thiqa " + SchemaVersion
	for _, s := range r.Signatures {
		var e xmlSignature
		e.Identifier.ID = s.ID
		e.Identifier.DAIdentif = s.Field
		e.Identifier.Digest.Method.Algorithm = "http://www.w3.org/2001/04/xmlenc#sha256"
		if h, err := hex.DecodeString(s.ContentsSHA256); err == nil && len(h) > 0 {
			e.Identifier.Digest.Value = base64.StdEncoding.EncodeToString(h)
		} else {
			h := sha256.Sum256([]byte(fmt.Sprint(s.ByteRange, s.Field)))
			e.Identifier.Digest.Value = base64.StdEncoding.EncodeToString(h[:])
		}
		e.TimeInfo.ValidationTime = r.ValidationTime.Format(time.RFC3339)
		if !s.BestSignatureTime.IsZero() {
			proof := poeValidator
			if !s.BestSignatureTime.Equal(r.ValidationTime) {
				proof = poeProvided
			}
			e.TimeInfo.Best = &struct {
				POETime     string `xml:"POETime"`
				TypeOfProof string `xml:"TypeOfProof"`
			}{s.BestSignatureTime.Format(time.RFC3339), proof}
		}
		if s.ClaimedTime != nil || s.Reason != "" || s.Location != "" {
			e.Attributes = &struct {
				SigningTime *struct {
					Signed bool   `xml:"Signed,attr"`
					Time   string `xml:"Time"`
				} `xml:"SigningTime,omitempty"`
				Reason   *xmlAttrText `xml:"Reason,omitempty"`
				Location *xmlAttrText `xml:"SignatureProductionPlace,omitempty"`
			}{}
			if s.ClaimedTime != nil {
				e.Attributes.SigningTime = &struct {
					Signed bool   `xml:"Signed,attr"`
					Time   string `xml:"Time"`
				}{true, s.ClaimedTime.Format(time.RFC3339)}
			}
			if s.Reason != "" {
				e.Attributes.Reason = &xmlAttrText{true, s.Reason}
			}
			if s.Location != "" {
				e.Attributes.Location = &xmlAttrText{true, s.Location}
			}
		}
		if s.Signer != nil {
			e.Signer = &struct {
				Signer string `xml:"Signer"`
			}{s.Signer.Subject}
		}
		e.Status.Main = mainIndURI + strings.ToLower(string(s.Indication))
		if s.SubIndication != "" {
			e.Status.Sub = []string{subIndURI + string(s.SubIndication)}
		}
		for _, f := range s.Findings {
			e.Status.Reports = append(e.Status.Reports, struct {
				Info string `xml:"AdditionalValidationReportData>ReportData>Value"`
			}{f})
		}
		x.Signatures = append(x.Signatures, e)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write XML report: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(x); err != nil {
		return fmt.Errorf("write XML report: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}
