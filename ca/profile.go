package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/thiqa/thiqa/internal/natid"
)

// Profile names a kind of end-entity certificate.
type Profile string

// End-entity profiles.
const (
	// CitizenSigning is a natural person's signing certificate (ETSI EN 319
	// 412-2): nonRepudiation only, QC statements with QcType esign.
	CitizenSigning Profile = "citizen-signing"
	// CitizenAuth is a natural person's authentication certificate:
	// digitalSignature, clientAuth.
	CitizenAuth Profile = "citizen-auth"
	// ESeal is a legal person's electronic seal (ETSI EN 319 412-3):
	// organizationIdentifier, QcType eseal.
	ESeal Profile = "eseal"
)

// Profiles lists the end-entity profiles.
var Profiles = []Profile{CitizenSigning, CitizenAuth, ESeal}

// issuerOf names the authority that issues each profile.
func (p Profile) issuer() (string, error) {
	switch p {
	case CitizenSigning, CitizenAuth:
		return CitizenCA, nil
	case ESeal:
		return OrgCA, nil
	}
	return "", fmt.Errorf("%w: unknown profile %q", ErrProfile, string(p))
}

// Subject holds the name fields a request may carry. Which fields a profile
// takes is fixed by the profile; a field outside it is refused.
type Subject struct {
	// Natural persons.
	NationalID    string `json:"national_id,omitempty"`
	GivenName     string `json:"given_name,omitempty"` // Latin letters
	Surname       string `json:"surname,omitempty"`
	GivenNameAr   string `json:"given_name_ar,omitempty"` // Arabic script
	SurnameAr     string `json:"surname_ar,omitempty"`
	Organization  string `json:"organization,omitempty"`            // legal persons
	OrgIdentifier string `json:"organization_identifier,omitempty"` // e.g. "NTRJO-200012345"
	CommonName    string `json:"common_name,omitempty"`             // derived when empty
}

// Object identifiers used in the profiles.
var (
	oidQCStatements       = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 3}
	oidQcsPkixSyntaxV2    = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 11, 2}
	oidSemanticsNatural   = asn1.ObjectIdentifier{0, 4, 0, 194121, 1, 1}
	oidSemanticsLegal     = asn1.ObjectIdentifier{0, 4, 0, 194121, 1, 2}
	oidQcCompliance       = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 1}
	oidQcPDS              = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 5}
	oidQcType             = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 6}
	oidQcTypeESign        = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 6, 1}
	oidQcTypeESeal        = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 6, 2}
	oidQcCCLegislation    = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 7}
	oidOCSPNoCheck        = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
	oidGivenName          = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSurname            = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidOrgIdentifier      = asn1.ObjectIdentifier{2, 5, 4, 97}
	oidExtKeyUsage        = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidEKUTimeStamping    = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidCertificatePolicy  = asn1.ObjectIdentifier{2, 5, 29, 32}
	oidAnyPolicy          = asn1.ObjectIdentifier{2, 5, 29, 32, 0}
	oidEKUDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}
)

type qcStatement struct {
	ID   asn1.ObjectIdentifier
	Info asn1.RawValue `asn1:"optional"`
}

type pdsLocation struct {
	URL      string `asn1:"ia5"`
	Language string `asn1:"printable"`
}

type semanticsInformation struct {
	ID asn1.ObjectIdentifier
}

// qcStatements encodes the QCStatements extension (ETSI EN 319 412-5) for a
// natural (esign) or legal (eseal) person: QcCompliance with the legislation
// of country — no EU claim — the QC type, the PKI disclosure statements, and
// the semantics identifier of the subject's serialNumber or
// organizationIdentifier (ETSI EN 319 412-1).
func qcStatements(qcType, semantics asn1.ObjectIdentifier, country string, pds map[string]string) (pkix.Extension, error) {
	raw := func(v any) (asn1.RawValue, error) {
		b, err := asn1.Marshal(v)
		return asn1.RawValue{FullBytes: b}, err
	}
	var stmts []qcStatement
	add := func(id asn1.ObjectIdentifier, info any) error {
		s := qcStatement{ID: id}
		if info != nil {
			r, err := raw(info)
			if err != nil {
				return err
			}
			s.Info = r
		}
		stmts = append(stmts, s)
		return nil
	}
	var locs []pdsLocation
	for _, lang := range []string{"en", "ar"} {
		if u, ok := pds[lang]; ok {
			locs = append(locs, pdsLocation{URL: u, Language: lang})
		}
	}
	err := errors.Join(
		add(oidQcsPkixSyntaxV2, semanticsInformation{ID: semantics}),
		add(oidQcCompliance, nil),
		add(oidQcCCLegislation, []string{country}),
		add(oidQcType, []asn1.ObjectIdentifier{qcType}),
		add(oidQcPDS, locs),
	)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("encode QC statements: %w", err)
	}
	b, err := asn1.Marshal(stmts)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("encode QC statements: %w", err)
	}
	return pkix.Extension{Id: oidQCStatements, Value: b}, nil
}

func policies(oids ...asn1.ObjectIdentifier) pkix.Extension {
	type policyInformation struct{ ID asn1.ObjectIdentifier }
	var ps []policyInformation
	for _, o := range oids {
		ps = append(ps, policyInformation{ID: o})
	}
	b, _ := asn1.Marshal(ps) // cannot fail for OIDs
	return pkix.Extension{Id: oidCertificatePolicy, Value: b}
}

// checkKey refuses public keys outside Thiqa's profiles: ECDSA P-256 and
// P-384, RSA of 2048 to 4096 bits with a sane exponent.
func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return fmt.Errorf("%w: ECDSA curve %s is not accepted (P-256 or P-384)", ErrProfile, k.Curve.Params().Name)
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 4096 || n%8 != 0 {
			return fmt.Errorf("%w: RSA key of %d bits is not accepted (2048 to 4096)", ErrProfile, n)
		}
		if k.E < 3 || k.E%2 == 0 {
			return fmt.Errorf("%w: RSA public exponent %d is not accepted", ErrProfile, k.E)
		}
		return nil
	}
	return fmt.Errorf("%w: public key type %T is not accepted", ErrProfile, pub)
}

// nameField checks one name field: printable Unicode, no control or
// formatting characters, 1 to max runes; script restricts the letters to
// Latin or Arabic.
func nameField(field, v string, max int, script *unicode.RangeTable) error {
	if v == "" {
		return fmt.Errorf("%w: %s is required", ErrProfile, field)
	}
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max {
		return fmt.Errorf("%w: %s must be at most %d characters of valid UTF-8", ErrProfile, field, max)
	}
	if strings.TrimSpace(v) != v || strings.Contains(v, "  ") {
		return fmt.Errorf("%w: %s has leading, trailing or repeated spaces", ErrProfile, field)
	}
	for _, r := range v {
		switch {
		case r == ' ' || r == '-' || r == '\'' || r == '.':
		case script != nil && unicode.Is(script, r) && unicode.IsLetter(r):
		case script == unicode.Arabic && unicode.Is(unicode.Mn, r) && unicode.Is(unicode.Arabic, r):
			// Arabic diacritics (harakat).
		case script == nil && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("&(),/", r)):
		default:
			return fmt.Errorf("%w: %s contains %q, which the profile does not allow", ErrProfile, field, r)
		}
	}
	return nil
}

var orgIdentifierPrefixes = []string{"NTR", "VAT", "GOV", "LEI"}

// subjectName builds and checks the subject of profile p.
func (p Profile) subjectName(s Subject, country string) (pkix.Name, error) {
	var n pkix.Name
	n.Country = []string{country}
	switch p {
	case CitizenSigning, CitizenAuth:
		if s.Organization != "" || s.OrgIdentifier != "" {
			return n, fmt.Errorf("%w: a natural person's certificate carries no organization", ErrProfile)
		}
		id, err := natid.Normalize(s.NationalID)
		if err != nil {
			return n, fmt.Errorf("%w: %w", ErrProfile, err)
		}
		err = errors.Join(
			nameField("given_name", s.GivenName, 64, unicode.Latin),
			nameField("surname", s.Surname, 64, unicode.Latin),
			nameField("given_name_ar", s.GivenNameAr, 64, unicode.Arabic),
			nameField("surname_ar", s.SurnameAr, 64, unicode.Arabic),
		)
		if err != nil {
			return n, err
		}
		cn := s.GivenName + " " + s.Surname
		if s.CommonName != "" && s.CommonName != cn {
			return n, fmt.Errorf("%w: common_name must be the given name and surname (%q)", ErrProfile, cn)
		}
		n.SerialNumber = "PNO" + country + "-" + id
		n.CommonName = cn
		// givenName and surname in Latin letters, then in Arabic script
		// (UTF8String), each as its own RDN.
		n.ExtraNames = []pkix.AttributeTypeAndValue{
			{Type: oidGivenName, Value: s.GivenName},
			{Type: oidSurname, Value: s.Surname},
			{Type: oidGivenName, Value: s.GivenNameAr},
			{Type: oidSurname, Value: s.SurnameAr},
		}
	case ESeal:
		if s.NationalID != "" || s.GivenName != "" || s.Surname != "" || s.GivenNameAr != "" || s.SurnameAr != "" {
			return n, fmt.Errorf("%w: an e-seal carries no natural person's name", ErrProfile)
		}
		if err := nameField("organization", s.Organization, 64, nil); err != nil {
			return n, err
		}
		ok := false
		for _, pre := range orgIdentifierPrefixes {
			rest, found := strings.CutPrefix(s.OrgIdentifier, pre+country+"-")
			ok = ok || (found && rest != "" && len(rest) <= 32 && strings.Trim(rest, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == "")
		}
		if !ok {
			return n, fmt.Errorf("%w: organization_identifier must be like NTR%s-123456 (ETSI EN 319 412-1 semantics: NTR, VAT, GOV or LEI)", ErrProfile, country)
		}
		cn := s.CommonName
		if cn == "" {
			cn = s.Organization
		}
		if err := nameField("common_name", cn, 64, nil); err != nil {
			return n, err
		}
		n.Organization = []string{s.Organization}
		n.CommonName = cn
		n.ExtraNames = []pkix.AttributeTypeAndValue{{Type: oidOrgIdentifier, Value: s.OrgIdentifier}}
	default:
		return n, fmt.Errorf("%w: unknown profile %q", ErrProfile, string(p))
	}
	return n, nil
}

// template builds the end-entity certificate template of profile p for a
// checked subject and key, without serial number, issuer or signature.
func (p Profile) template(cfg *Config, name pkix.Name, pub crypto.PublicKey, now time.Time, issuer string) (*x509.Certificate, error) {
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProfile, err)
	}
	t := &x509.Certificate{
		Subject:               name,
		SubjectKeyId:          ski,
		PublicKey:             pub,
		NotBefore:             now.Add(-time.Minute).Truncate(time.Second),
		BasicConstraintsValid: true,
		OCSPServer:            []string{cfg.url("/ocsp")},
		IssuingCertificateURL: []string{cfg.url("/ca/" + issuer + ".cer")},
		CRLDistributionPoints: []string{cfg.url("/crl/" + issuer + ".crl")},
	}
	switch p {
	case CitizenSigning:
		t.NotAfter = t.NotBefore.Add(time.Duration(cfg.CitizenValidity))
		t.KeyUsage = x509.KeyUsageContentCommitment
		// emailProtection: NSS (pdfsig, Firefox) and Acrobat accept a
		// document-signing certificate that has an EKU only when it lists
		// emailProtection; documentSigning (RFC 9336) says what it is for.
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
		t.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidEKUDocumentSigning}
		t.ExtraExtensions = append(t.ExtraExtensions, policies(cfg.policy(1)))
		var qc pkix.Extension
		qc, err = qcStatements(oidQcTypeESign, oidSemanticsNatural, cfg.Country, cfg.pds())
		t.ExtraExtensions = append(t.ExtraExtensions, qc)
	case CitizenAuth:
		t.NotAfter = t.NotBefore.Add(time.Duration(cfg.CitizenValidity))
		t.KeyUsage = x509.KeyUsageDigitalSignature
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		t.ExtraExtensions = append(t.ExtraExtensions, policies(cfg.policy(2)))
	case ESeal:
		t.NotAfter = t.NotBefore.Add(time.Duration(cfg.ESealValidity))
		t.KeyUsage = x509.KeyUsageContentCommitment | x509.KeyUsageDigitalSignature
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
		t.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidEKUDocumentSigning}
		t.ExtraExtensions = append(t.ExtraExtensions, policies(cfg.policy(3)))
		var qc pkix.Extension
		qc, err = qcStatements(oidQcTypeESeal, oidSemanticsLegal, cfg.Country, cfg.pds())
		t.ExtraExtensions = append(t.ExtraExtensions, qc)
	default:
		return nil, fmt.Errorf("%w: unknown profile %q", ErrProfile, string(p))
	}
	return t, err
}
