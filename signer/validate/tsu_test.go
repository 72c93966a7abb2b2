package validate

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/signer"
	"golang.org/x/crypto/ocsp"
)

// crlForTSA puts a CRL of the issuing CA in the DSS for the TSA
// certificate, revoking it at at for reason; other certificates get the
// PKI's own data.
type crlForTSA struct {
	p      *testpki.PKI
	at     time.Time
	reason int
}

func (c crlForTSA) Revocation(ctx context.Context, cert, issuer *x509.Certificate) (*signer.Revocation, error) {
	if !cert.Equal(c.p.TSA) {
		return rawRevocation{c.p}.Revocation(ctx, cert, issuer)
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: c.p.Now, NextUpdate: c.p.Now.Add(7 * 24 * time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: cert.SerialNumber, RevocationTime: c.at, ReasonCode: c.reason}},
	}, c.p.CA, c.p.CAKey)
	return &signer.Revocation{CRLs: [][]byte{der}}, err
}

// TestTSURevocation signs with a time-stamping unit whose certificate is
// revoked before or after the time-stamps' time (its OCSP response or CRL
// in the DSS) and checks what the time-stamps still prove. In every case
// the signer's own certificate is revoked an hour after signing and the
// document is validated two hours after: only a time-stamp that still
// proves the signature existed before that revocation makes it pass.
func TestTSURevocation(t *testing.T) {
	doc := makePDF(t, 1)
	for _, tc := range []struct {
		name    string
		level   signer.Level
		tsuAt   time.Duration // TSA revocation relative to signing; 0: not revoked
		reason  int           // with a CRL in the DSS instead of OCSP
		tsSub   SubIndication // of the signature time-stamp
		ind     Indication    // of the signature
		sub     SubIndication
		docInd  Indication // of the document time-stamp (B-LTA)
		docSub  SubIndication
		revoked bool // the TSA revocation is reported as revoked
	}{
		{name: "TSU not revoked", level: signer.LevelBLT, ind: TotalPassed},
		{name: "TSU revoked before the time-stamp", level: signer.LevelBLT, tsuAt: -time.Hour, tsSub: Revoked, ind: Indeterminate, sub: RevokedNoPOE, revoked: true},
		{name: "TSU revoked after the time-stamp, key compromise", level: signer.LevelBLT, tsuAt: 30 * time.Minute, tsSub: RevokedNoPOE, ind: Indeterminate, sub: RevokedNoPOE, revoked: true},
		{name: "TSU revoked after the time-stamp, no reason (CRL)", level: signer.LevelBLT, tsuAt: 30 * time.Minute, reason: -1, tsSub: RevokedNoPOE, ind: Indeterminate, sub: RevokedNoPOE, revoked: true},
		{name: "TSU revoked after the time-stamp, cessation of operation (CRL)", level: signer.LevelBLT, tsuAt: 30 * time.Minute, reason: ocsp.CessationOfOperation, ind: TotalPassed, revoked: true},
		{name: "TSU revoked at the time-stamp's time (CRL)", level: signer.LevelBLT, tsuAt: -1, reason: ocsp.Superseded, tsSub: Revoked, ind: Indeterminate, sub: RevokedNoPOE, revoked: true},
		{name: "B-LTA, TSU revoked before both time-stamps", level: signer.LevelBLTA, tsuAt: -time.Hour, tsSub: Revoked, ind: Indeterminate, sub: RevokedNoPOE, docInd: TotalFailed, docSub: Revoked, revoked: true},
		{name: "B-LTA, TSU revoked after both time-stamps", level: signer.LevelBLTA, tsuAt: 30 * time.Minute, tsSub: RevokedNoPOE, ind: Indeterminate, sub: RevokedNoPOE, docInd: Indeterminate, docSub: RevokedNoPOE, revoked: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testpki.New(t, nil)
			p.Revoke(p.Signer, p.Now.Add(time.Hour))
			o := signOpts(p, tc.level)
			if tc.tsuAt != 0 {
				at := p.Now.Add(tc.tsuAt)
				if tc.tsuAt == -1 {
					at = p.Now
				}
				if tc.reason != 0 {
					reason := max(tc.reason, 0)
					o.Revocation = crlForTSA{p, at, reason}
				} else {
					p.Revoke(p.TSA, at)
				}
			}
			signed := sign(t, doc, p.SignerKey, o)
			vt := p.Now.Add(2 * time.Hour)
			rep := validate(t, signed, &Options{TrustAnchors: []*x509.Certificate{p.Root}, Time: vt})
			s := rep.Signatures[0]
			if len(s.Timestamps) == 0 || s.Timestamps[0].Kind != "signature" {
				t.Fatalf("no signature time-stamp: %+v", s.Timestamps)
			}
			ts := s.Timestamps[0]
			if !ts.Valid {
				t.Errorf("time-stamp not valid: %s", ts.Problem)
			}
			if ts.SubIndication != tc.tsSub || ts.Trusted != (tc.tsSub == "") {
				t.Errorf("time-stamp trusted=%v %q (%s), want %q", ts.Trusted, ts.SubIndication, ts.Problem, tc.tsSub)
			}
			if len(ts.TSARevocation) == 0 {
				t.Errorf("no revocation status for the TSA")
			} else if got := ts.TSARevocation[0].Status == "revoked"; got != tc.revoked {
				t.Errorf("TSA revocation %+v, revoked want %v", ts.TSARevocation[0], tc.revoked)
			}
			if s.Indication != tc.ind || s.SubIndication != tc.sub {
				t.Errorf("signature %s/%s, want %s/%s: %v", s.Indication, s.SubIndication, tc.ind, tc.sub, s.Findings)
			}
			wantBest := p.Now
			if tc.tsSub != "" {
				wantBest = vt // no proof of existence left
			}
			if !s.BestSignatureTime.Equal(wantBest) {
				t.Errorf("best signature time %v, want %v", s.BestSignatureTime, wantBest)
			}
			if tc.level == signer.LevelBLTA {
				if len(rep.Signatures) != 2 {
					t.Fatalf("%d signatures, want the signature and a document time-stamp", len(rep.Signatures))
				}
				dts := rep.Signatures[1]
				if dts.Indication != tc.docInd || dts.SubIndication != tc.docSub {
					t.Errorf("document time-stamp %s/%s, want %s/%s: %v", dts.Indication, dts.SubIndication, tc.docInd, tc.docSub, dts.Findings)
				}
				if got := dts.Timestamps[0].SubIndication; got != tc.docSub {
					t.Errorf("document time-stamp token %q, want %q", got, tc.docSub)
				}
			}
			var text bytes.Buffer
			if err := rep.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if tc.tsSub != "" && !strings.Contains(text.String(), "no proof of existence, "+string(tc.tsSub)) {
				t.Errorf("text report does not say why the time-stamp proves nothing:\n%s", text.String())
			}
			t.Logf("%s", s.Explanation.EN)
		})
	}
}

// TestTSURevokedAfterArchived checks that a signature time-stamp whose
// TSU was later revoked for key compromise still proves the signature's
// existence when a document time-stamp from another, unrevoked TSU made
// before the revocation covers it.
func TestTSURevokedAfterArchived(t *testing.T) {
	p := testpki.New(t, nil)
	p2 := testpki.New(t, nil)
	p.Revoke(p.Signer, p.Now.Add(time.Hour))
	p.Revoke(p.TSA, p.Now.Add(30*time.Minute))
	signed := sign(t, makePDF(t, 1), p.SignerKey, signOpts(p, signer.LevelBLT))
	vt := p.Now.Add(2 * time.Hour)
	anchors := []*x509.Certificate{p.Root, p2.Root}

	// Without the archive time-stamp the revoked TSU proves nothing.
	rep := validate(t, signed, &Options{TrustAnchors: anchors, Time: vt})
	if s := rep.Signatures[0]; s.SubIndication != RevokedNoPOE {
		t.Fatalf("without archive: %s/%s, want INDETERMINATE/REVOKED_NO_POE", s.Indication, s.SubIndication)
	}

	renewed, err := signer.Renew(context.Background(), bytes.NewReader(signed), int64(len(signed)), &signer.Options{
		Timestamper: signer.TimestamperFunc(p2.Authority.Token),
		Revocation:  rawRevocation{p},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := renewed.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	rep = validate(t, out.Bytes(), &Options{TrustAnchors: anchors, Time: vt})
	for _, s := range rep.Signatures {
		t.Logf("%s %s %s/%s %v", s.ID, s.Kind, s.Indication, s.SubIndication, s.Findings)
	}
	s := rep.Signatures[0]
	if s.Indication != TotalPassed {
		t.Errorf("signature %s/%s, want TOTAL-PASSED", s.Indication, s.SubIndication)
	}
	if ts := s.Timestamps[0]; ts.Kind != "signature" || !ts.Trusted || ts.SubIndication != "" {
		t.Errorf("signature time-stamp %+v, want trusted", ts)
	}
	if !s.BestSignatureTime.Equal(p.Now) {
		t.Errorf("best signature time %v, want %v", s.BestSignatureTime, p.Now)
	}
}

// TestTSURevokedOnline checks that a B-T signature (no validation data in
// the file) has its TSU's status fetched when online validation is
// allowed, and kept unknown otherwise.
func TestTSURevokedOnline(t *testing.T) {
	p := testpki.New(t, nil)
	p.Revoke(p.TSA, p.Now.Add(-time.Hour))
	signed := sign(t, makePDF(t, 1), p.SignerKey, signOpts(p, signer.LevelBT))
	for _, online := range []bool{true, false} {
		o := trusting(p)
		o.Online = online
		rep := validate(t, signed, o)
		ts := rep.Signatures[0].Timestamps[0]
		if len(ts.TSARevocation) == 0 {
			t.Fatalf("online %v: no TSA revocation status", online)
		}
		rv := ts.TSARevocation[0]
		switch {
		case online && (ts.SubIndication != Revoked || rv.Status != "revoked" || rv.Source != "ocsp/online"):
			t.Errorf("online: %s, revocation %+v; want REVOKED from ocsp/online", ts.SubIndication, rv)
		case !online && (ts.SubIndication != "" || !ts.Trusted || rv.Status != "unknown"):
			t.Errorf("offline: %q trusted=%v, revocation %+v; want a trusted token with unknown status", ts.SubIndication, ts.Trusted, rv)
		}
	}
}
