package validate

import (
	"crypto/x509"
	"fmt"
	"time"

	"golang.org/x/crypto/ocsp"
)

// checkTSURevocation checks the revocation of the TSA chain of every
// trusted time-stamp token (signature and document time-stamps), from
// the revocation data of the file (DSS, VRI, CMS, the tokens' own
// revocation info) or online when allowed. A token whose TSA certificate
// was revoked gives no proof of existence (EN 319 102-1 time-stamp
// validation, with RFC 3161 section 4 for the revocation reason):
//
//   - revoked at or before the time the token vouches for: REVOKED;
//   - revoked later for superseded, cessationOfOperation or
//     affiliationChanged: the token stays valid (RFC 3161 keeps the
//     tokens made before such a revocation);
//   - revoked later for any other reason, or none given (a key compromise
//     cannot be ruled out): the token counts only when a later trusted
//     document time-stamp proves it existed before the revocation, else
//     REVOKED_NO_POE (REVOKED_CA_NO_POE when a CA of the TSA is revoked).
//
// Tokens are judged from the newest revision back, so that the document
// time-stamps that may vouch for older tokens are judged first. A TSA
// without any revocation information keeps its tokens, with a finding.
func (d *doc) checkTSURevocation() {
	for i := len(d.sigs) - 1; i >= 0; i-- {
		s := d.sigs[i]
		for _, tk := range s.tokens {
			if err := d.ctx.Err(); err != nil {
				return
			}
			ts := &s.rep.Timestamps[tk.idx]
			if ts.Valid && ts.Trusted {
				d.judgeTSU(s, ts, tk.chain)
			}
		}
	}
}

// judgeTSU checks the chain of the TSA of ts, a token of s.
func (d *doc) judgeTSU(s *sig, ts *Timestamp, chain []*x509.Certificate) {
	when := ts.Time.UTC().Format(time.RFC3339)
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		if d.anchors.has(cert) {
			break
		}
		if hasOCSPNoCheck(cert) {
			continue
		}
		st := d.status(cert, issuer, ts.Time)
		if (st.status == "unknown" || st.status == "stale") && d.opts.Online {
			d.fetch(cert, issuer)
			st = d.status(cert, issuer, ts.Time)
		}
		ts.TSARevocation = append(ts.TSARevocation, revocationEntry(cert, st))
		who := "the TSA certificate " + cert.Subject.String()
		if i > 0 {
			who = "the CA certificate " + cert.Subject.String() + " of the TSA"
		}
		switch st.status {
		case "good":
			continue
		case "unknown", "stale":
			s.finding(fmt.Sprintf("the %s time-stamp of %s is used without current revocation information for %s", ts.Kind, when, who))
			continue
		}
		at := st.revokedAt.UTC()
		atText := at.Format(time.RFC3339)
		if !at.After(ts.Time) {
			d.rejectToken(s, ts, Revoked, fmt.Sprintf("%s was revoked on %s, at or before the time the time-stamp vouches for (%s)", who, atText, when))
			return
		}
		if r, ok := harmlessReason(st.reason); ok {
			s.finding(fmt.Sprintf("%s was revoked on %s (%s), after the %s time-stamp of %s, which stays valid (RFC 3161)", who, atText, r, ts.Kind, when))
			continue
		}
		if t, ok := d.laterPOE(s, at); ok {
			s.finding(fmt.Sprintf("%s was revoked on %s, after the %s time-stamp of %s; a document time-stamp of %s proves the time-stamp existed before", who, atText, ts.Kind, when, t.Format(time.RFC3339)))
			continue
		}
		sub := RevokedNoPOE
		if i > 0 {
			sub = RevokedCANoPOE
		}
		d.rejectToken(s, ts, sub, fmt.Sprintf("%s was revoked on %s (%s), after the time the time-stamp vouches for (%s), and nothing proves the time-stamp existed before the revocation", who, atText, reasonText(st.reason), when))
		return
	}
}

// rejectToken takes ts, a token of s, out of the proofs of existence.
func (d *doc) rejectToken(s *sig, ts *Timestamp, sub SubIndication, why string) {
	ts.Trusted, ts.SubIndication, ts.Problem = false, sub, why
	kind := ts.Kind + " time-stamp"
	kept := s.poe[:0]
	for _, p := range s.poe {
		if p.kind != kind || !p.t.Equal(ts.Time) {
			kept = append(kept, p)
		}
	}
	s.poe = kept
	s.finding(fmt.Sprintf("the %s gives no proof of existence (%s): %s", kind, sub, why))
	if s.docTS {
		ind := Indeterminate
		if sub == Revoked {
			ind = TotalFailed
		}
		s.rep.Checks.Revocation = CheckFailed
		s.setVerdict(ind, sub, why)
	}
}

// rejectedTokens names the time-stamps of s taken out of its proofs of
// existence by a revoked TSA, for a verdict's detail.
func (s *sig) rejectedTokens() string {
	out := ""
	for _, ts := range s.rep.Timestamps {
		if ts.SubIndication != "" {
			out += fmt.Sprintf("; the %s time-stamp of %s proves nothing: %s", ts.Kind, ts.Time.UTC().Format(time.RFC3339), ts.Problem)
		}
	}
	return out
}

// laterPOE returns the time of a trusted document time-stamp of a later
// revision than s, made before t.
func (d *doc) laterPOE(s *sig, t time.Time) (time.Time, bool) {
	if s.rev < 0 {
		return time.Time{}, false
	}
	for _, u := range d.sigs {
		if !u.docTS || u == s || !u.cryptoOK || u.rev <= s.rev {
			continue
		}
		for _, ts := range u.rep.Timestamps {
			if ts.Kind == "document" && ts.Valid && ts.Trusted && ts.Time.Before(t) {
				return ts.Time, true
			}
		}
	}
	return time.Time{}, false
}

// harmlessReason reports the revocation reasons after which RFC 3161
// section 4 keeps earlier tokens valid. Unspecified (0) is left out: the
// parsers give 0 also when no reason is present, and then every token is
// to be considered invalid.
func harmlessReason(r int) (string, bool) {
	switch r {
	case ocsp.AffiliationChanged, ocsp.Superseded, ocsp.CessationOfOperation:
		return reasonText(r), true
	}
	return "", false
}

func reasonText(r int) string {
	switch r {
	case ocsp.KeyCompromise:
		return "key compromise"
	case ocsp.CACompromise:
		return "CA compromise"
	case ocsp.AffiliationChanged:
		return "affiliation changed"
	case ocsp.Superseded:
		return "superseded"
	case ocsp.CessationOfOperation:
		return "cessation of operation"
	case ocsp.CertificateHold:
		return "certificate hold"
	case ocsp.PrivilegeWithdrawn:
		return "privilege withdrawn"
	case ocsp.AACompromise:
		return "AA compromise"
	}
	return "no reason given"
}

func revocationEntry(cert *x509.Certificate, st certStatus) Revocation {
	r := Revocation{Subject: cert.Subject.String(), Status: st.status, Source: st.source}
	if !st.thisUpdate.IsZero() {
		r.ThisUpdate = ptr(st.thisUpdate.UTC())
	}
	if st.status == "revoked" {
		r.RevokedAt = ptr(st.revokedAt.UTC())
	}
	return r
}
