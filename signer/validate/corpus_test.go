package validate

import (
	"context"
	"path/filepath"
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
