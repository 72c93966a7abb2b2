package signer

import (
	"bytes"
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer/validate"
)

// TestRoundTrip signs corpus inputs (the higherLevels subset) at every
// level and checks that Thiqa's validator reports our signature at the
// level produced, TOTAL-PASSED with the test root trusted (earlier
// signatures of the corpus files are not looked at).
func TestRoundTrip(t *testing.T) {
	p := testpki.New(t, nil)
	for name, in := range subsetInputs(t) {
		for _, level := range []Level{LevelBB, LevelBT, LevelBLT, LevelBLTA} {
			t.Run(name+"/"+level.String(), func(t *testing.T) {
				t.Parallel()
				o := options(p, level)
				o.Revocation = inProcessRevocation(t, p)
				out := signBytes(t, in, p.SignerKey, o)
				// B-B and B-T carry no revocation data: the validator
				// fetches it from the test PKI.
				vopts := &validate.Options{TrustAnchors: []*x509.Certificate{p.Root}, Time: p.Now.Add(time.Hour), Online: level < LevelBLT}
				rep, err := validate.Validate(context.Background(), bytes.NewReader(out), int64(len(out)), vopts)
				if err != nil {
					t.Fatal(err)
				}
				var ours *validate.Signature
				for i := range rep.Signatures {
					if s := &rep.Signatures[i]; s.Kind == "signature" {
						ours = s // the newest signature is listed last
					}
				}
				if ours == nil {
					t.Fatalf("validator found no signature: %+v", rep)
				}
				if ours.Level != level.String() || ours.Indication != validate.TotalPassed {
					t.Errorf("validator: level %s %s/%s, want %v TOTAL-PASSED: %v", ours.Level, ours.Indication, ours.SubIndication, level, ours.Findings)
				}
			})
		}
	}
}
