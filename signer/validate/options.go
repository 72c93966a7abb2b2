package validate

import (
	"crypto/x509"
	"net/http"
	"time"
)

// Limits bound the work spent on one file. The zero value selects the
// defaults.
type Limits struct {
	MaxFileSize    int64         // default 512 MiB
	MaxSignatures  int           // default 64
	MaxRevisions   int           // default 256
	MaxCMSSize     int           // bytes of one /Contents; default 8 MiB
	MaxChainLength int           // default 12
	MaxObjects     int           // objects examined per revision by modification analysis; default 200,000
	MaxFields      int           // form fields walked per revision; default 20,000
	MaxRevocation  int           // OCSP responses plus CRLs considered; default 512
	Timeout        time.Duration // per file; default 60 s
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = 512 << 20
	}
	def(&l.MaxSignatures, 64)
	def(&l.MaxRevisions, 256)
	def(&l.MaxCMSSize, 8<<20)
	def(&l.MaxChainLength, 12)
	def(&l.MaxObjects, 200_000)
	def(&l.MaxFields, 20_000)
	def(&l.MaxRevocation, 512)
	if l.Timeout <= 0 {
		l.Timeout = 60 * time.Second
	}
	return l
}

// Options configure validation. The zero value is safe: no trust
// anchors (so nothing is TOTAL-PASSED), the wall clock, offline.
type Options struct {
	// TrustAnchors are the roots (or other certificates) trusted as the
	// end of a chain.
	TrustAnchors []*x509.Certificate
	// Time is the validation time; zero means Clock().
	Time time.Time
	// Clock gives the time when Time is zero; nil means time.Now.
	Clock func() time.Time
	// Online allows fetching OCSP responses and CRLs named in the
	// certificates when the file carries none.
	Online bool
	// HTTPClient is used when Online; nil means a client with a 10 s
	// timeout.
	HTTPClient *http.Client
	// RevocationFreshness is how long before the best-signature-time a
	// "good" OCSP response or CRL may have been issued and still count;
	// default 24 h.
	RevocationFreshness time.Duration
	// Limits bound the work per file.
	Limits Limits
	// Name is put in Report.File.
	Name string
}

func (o *Options) now() time.Time {
	if !o.Time.IsZero() {
		return o.Time.UTC()
	}
	if o.Clock != nil {
		return o.Clock().UTC()
	}
	return time.Now().UTC()
}
