package validate

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// noSignatures lists the signed corpus files without a signature field,
// with the reason.
var noSignatures = map[string]string{
	"adbe.pkcs7.detached_usageRights.pdf": "only a usage-rights signature (/Perms /UR3), which no one signs a document with; pdfsig finds no signature either",
}

var corpusTime = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// TestCorpusSigned validates every signed corpus file without trust
// anchors: each signature is intact and INDETERMINATE with
// NO_CERTIFICATE_CHAIN_FOUND.
func TestCorpusSigned(t *testing.T) {
	for _, f := range corpusFiles(t, "signed") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			rep, err := ValidateFile(context.Background(), f, &Options{Time: corpusTime})
			if err != nil {
				t.Fatal(err)
			}
			if why, ok := noSignatures[filepath.Base(f)]; ok {
				if len(rep.Signatures) != 0 || rep.SubIndication != SignedDataNotFound {
					t.Errorf("got %d signatures, %s; want none (%s)", len(rep.Signatures), rep.SubIndication, why)
				}
				return
			}
			if len(rep.Signatures) == 0 {
				t.Fatalf("no signatures found: %s %s %s", rep.Indication, rep.SubIndication, rep.Problem)
			}
			for _, s := range rep.Signatures {
				t.Logf("%s %s %s %s rev=%d level=%s %s %v", s.ID, s.Kind, s.SubFilter, s.Field, s.Revision, s.Level, s.Indication+"/"+Indication(s.SubIndication), s.Findings)
				if s.SubIndication == HashFailure || s.SubIndication == SigCryptoFailure || s.SubIndication == FormatFailure {
					t.Errorf("%s: %s/%s: %v", s.ID, s.Indication, s.SubIndication, s.Findings)
				}
				if s.Indication != Indeterminate || s.SubIndication != NoCertificateChain {
					t.Errorf("%s: %s/%s, want INDETERMINATE/NO_CERTIFICATE_CHAIN_FOUND: %v", s.ID, s.Indication, s.SubIndication, s.Findings)
				}
			}
			for _, m := range rep.Modifications {
				t.Logf("mod %+v", m)
			}
		})
	}
}

// embeddedRoots returns the self-signed certificates found in the file's
// CMS structures, time-stamp tokens and DSS.
func embeddedRoots(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	o := &Options{Time: corpusTime}
	o.Limits = o.Limits.withDefaults()
	o.RevocationFreshness = 24 * time.Hour
	d := &doc{ctx: context.Background(), r: f, size: st.Size(), opts: o, lim: o.Limits, now: corpusTime,
		rep: &Report{Signatures: []Signature{}, Modifications: []Modification{}}}
	d.run()
	var roots []*x509.Certificate
	for _, c := range d.pool.certs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			roots = append(roots, c)
		}
	}
	return roots
}

// TestCorpusWithRoots supplies the roots embedded in each file as trust
// anchors: the chains that reach them are built, and the verdict then
// names what stands in the way (expiry, revocation data) or passes.
func TestCorpusWithRoots(t *testing.T) {
	trustedSigs := 0
	for _, f := range corpusFiles(t, "signed") {
		if _, ok := noSignatures[filepath.Base(f)]; ok {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			roots := embeddedRoots(t, f)
			rep, err := ValidateFile(context.Background(), f, &Options{Time: corpusTime, TrustAnchors: roots})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range rep.Signatures {
				t.Logf("%s %s trusted=%v %s/%s: %s", s.ID, s.Kind, s.Trusted, s.Indication, s.SubIndication, s.Explanation.EN)
				switch s.SubIndication {
				case HashFailure, SigCryptoFailure, FormatFailure:
					t.Errorf("%s: %s/%s", s.ID, s.Indication, s.SubIndication)
				}
				if !s.Trusted {
					if s.SubIndication != NoCertificateChain {
						t.Errorf("%s: untrusted chain but %s", s.ID, s.SubIndication)
					}
					continue
				}
				trustedSigs++
				if s.SubIndication == NoCertificateChain {
					t.Errorf("%s: chain built but NO_CERTIFICATE_CHAIN_FOUND", s.ID)
				}
				if s.Indication != TotalPassed && !strings.Contains(s.Explanation.EN, "(") {
					t.Errorf("%s: %s without a reason: %q", s.ID, s.SubIndication, s.Explanation.EN)
				}
			}
		})
	}
	if trustedSigs < 20 {
		t.Errorf("only %d signatures chain to an embedded root", trustedSigs)
	}
}

// TestCorpusAll validates every PDF of the corpus, broken ones included:
// each gives a report with a verdict, none panics, none takes long.
func TestCorpusAll(t *testing.T) {
	for _, f := range corpusFiles(t, "") {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			start := time.Now()
			rep, err := ValidateFile(context.Background(), f, &Options{Time: corpusTime})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Indication == "" || rep.Explanation.EN == "" {
				t.Errorf("no verdict: %+v", rep)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
