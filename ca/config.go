package ca

import (
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Config is the configuration of the key ceremony. It is saved with the
// ceremony, since the URLs and names it holds are written into every
// certificate, and read back when the authority opens.
type Config struct {
	// Country is the ISO 3166 country code in names and QcCClegislation.
	Country string `json:"country"`
	// Organization names the trust service provider in CA names.
	Organization string `json:"organization"`
	// PublicURL is the base URL of the public endpoints (CRL, OCSP, CA
	// certificates), plain HTTP as RFC 5280 relying parties expect.
	PublicURL string `json:"public_url"`
	// PDSURL is the HTTPS base URL of the PKI disclosure statements;
	// "/en" and "/ar" are appended. Default: PublicURL's host over HTTPS.
	PDSURL string `json:"pds_url"`
	// PolicyArc is the OID arc under which Thiqa's certificate policies
	// are numbered (arc.1 citizen signing, .2 citizen authentication, .3
	// e-seal, .4 time-stamping). The default, 2.16.400.1.1, is a
	// placeholder under Jordan's country arc: allocate a real one.
	PolicyArc string `json:"policy_arc"`
	// Validity of citizens' and e-seal certificates and of CRLs.
	CitizenValidity Duration `json:"citizen_validity"`
	ESealValidity   Duration `json:"eseal_validity"`
	CRLValidity     Duration `json:"crl_validity"`
	// OCSPValidity is how long an OCSP response is valid (nextUpdate -
	// thisUpdate); cached responses are re-signed after half of it.
	OCSPValidity Duration `json:"ocsp_validity"`
}

// Duration is a time.Duration written as a Go duration string in JSON.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// DefaultConfig returns the configuration of a pilot on one machine.
func DefaultConfig() Config {
	return Config{
		Country:         "JO",
		Organization:    "Thiqa",
		PublicURL:       "http://127.0.0.1:8080",
		PolicyArc:       "2.16.400.1.1",
		CitizenValidity: Duration(2 * 365 * 24 * time.Hour),
		ESealValidity:   Duration(3 * 365 * 24 * time.Hour),
		CRLValidity:     Duration(24 * time.Hour),
		OCSPValidity:    Duration(4 * time.Hour),
	}
}

var countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)

// Validate checks the configuration and fills in derived defaults.
func (c *Config) Validate() error {
	var errs []error
	if !countryPattern.MatchString(c.Country) {
		errs = append(errs, fmt.Errorf("country %q is not an ISO 3166 two-letter code", c.Country))
	}
	if err := nameField("organization", c.Organization, 64, nil); err != nil {
		errs = append(errs, err)
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		errs = append(errs, fmt.Errorf("public URL %q is not an absolute http(s) URL", c.PublicURL))
	} else {
		c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
		if c.PDSURL == "" {
			c.PDSURL = "https://" + u.Host + u.Path + "/pds"
		}
	}
	if p, err := url.Parse(c.PDSURL); c.PDSURL != "" && (err != nil || p.Scheme != "https" || p.Host == "") {
		errs = append(errs, fmt.Errorf("PDS URL %q must be an absolute https URL (ETSI EN 319 412-5)", c.PDSURL))
	}
	c.PDSURL = strings.TrimSuffix(c.PDSURL, "/")
	if _, err := parseOID(c.PolicyArc); err != nil {
		errs = append(errs, fmt.Errorf("policy arc: %w", err))
	}
	for _, d := range []struct {
		name     string
		v        Duration
		min, max time.Duration
	}{
		{"citizen validity", c.CitizenValidity, 24 * time.Hour, 5 * 366 * 24 * time.Hour},
		{"e-seal validity", c.ESealValidity, 24 * time.Hour, 5 * 366 * 24 * time.Hour},
		{"CRL validity", c.CRLValidity, time.Hour, 10 * 24 * time.Hour},
		{"OCSP validity", c.OCSPValidity, time.Minute, 7 * 24 * time.Hour},
	} {
		if v := time.Duration(d.v); v < d.min || v > d.max {
			errs = append(errs, fmt.Errorf("%s %v is outside %v to %v", d.name, v, d.min, d.max))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return nil
}

func (c *Config) url(path string) string { return c.PublicURL + path }

func (c *Config) pds() map[string]string {
	return map[string]string{"en": c.PDSURL + "/en", "ar": c.PDSURL + "/ar"}
}

// policy returns the OID arc.n.
func (c *Config) policy(n int) asn1.ObjectIdentifier {
	arc, _ := parseOID(c.PolicyArc) // checked by Validate
	return append(append(asn1.ObjectIdentifier{}, arc...), n)
}

// TSAPolicy returns the time-stamping policy OID.
func (c *Config) TSAPolicy() asn1.ObjectIdentifier { return c.policy(4) }

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 20 {
		return nil, fmt.Errorf("%q is not an object identifier", s)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != p {
			return nil, fmt.Errorf("%q is not an object identifier", s)
		}
		oid[i] = n
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] > 39) {
		return nil, fmt.Errorf("%q is not an object identifier", s)
	}
	return oid, nil
}

// Options are the run-time settings of a Service; the zero value is safe.
type Options struct {
	Clock func() time.Time // default time.Now
	Rand  io.Reader        // default crypto/rand.Reader
	// Audit records the ceremony, every issuance and every status change;
	// nil records nothing (tests of the CA alone).
	Audit Auditor
}

func (o Options) now() time.Time {
	if o.Clock != nil {
		return o.Clock()
	}
	return time.Now()
}

func (o Options) rand() io.Reader {
	if o.Rand != nil {
		return o.Rand
	}
	return rand.Reader
}
