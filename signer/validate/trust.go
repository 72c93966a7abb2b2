package validate

import (
	"fmt"
	"strconv"
	"time"

	"crypto/x509"
)

// bestTime returns the earliest proof of existence of s (a trusted
// signature or document time-stamp), and whether there is one.
func (s *sig) bestTime(now time.Time) (time.Time, bool) {
	var best time.Time
	for _, p := range s.poe {
		if best.IsZero() || p.t.Before(best) {
			best = p.t
		}
	}
	if best.IsZero() {
		return now, false
	}
	return best, true
}

// addDocTimestampPOE gives each signature the proof of existence of the
// trusted document time-stamps that cover its revision.
func (d *doc) addDocTimestampPOE() {
	for _, ts := range d.sigs {
		if !ts.docTS || !ts.cryptoOK {
			continue
		}
		var t *Timestamp
		for i := range ts.rep.Timestamps {
			if ts.rep.Timestamps[i].Valid && ts.rep.Timestamps[i].Trusted {
				t = &ts.rep.Timestamps[i]
			}
		}
		if t == nil {
			continue
		}
		for _, s := range d.sigs {
			if s == ts || s.rev < 0 || s.rev >= ts.rev {
				continue
			}
			s.poe = append(s.poe, poe{"document time-stamp", t.Time})
			s.rep.Timestamps = append(s.rep.Timestamps, Timestamp{Kind: "document", Time: t.Time, TSA: t.TSA, Valid: true, Trusted: true})
		}
	}
}

// checkTrust builds the chain, checks validity periods, key usage and
// revocation, and decides the verdict for an intact signature.
func (d *doc) checkTrust(s *sig) {
	if !s.cryptoOK || s.cert == nil {
		return
	}
	if !d.poeAdded {
		d.poeAdded = true
		d.addDocTimestampPOE()
	}
	c := &s.rep.Checks
	chain, trusted, why := d.buildChain(s.cert)
	for _, cc := range chain {
		s.rep.Chain = append(s.rep.Chain, certSummary(cc))
	}
	s.rep.Trusted = trusted
	best, hasPOE := s.bestTime(d.now)
	s.rep.BestSignatureTime = best
	d.checkTimestampOrder(s)
	leaf := s.cert
	if !trusted {
		c.Chain = CheckFailed
		msg := "no chain to a trust anchor: " + why
		if d.now.After(leaf.NotAfter) {
			msg += fmt.Sprintf("; the certificate also expired on %s", leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		s.setVerdict(Indeterminate, NoCertificateChain, msg)
		return
	}
	c.Chain = CheckPassed
	if !s.docTS && leaf.KeyUsage != 0 && leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		s.setVerdict(Indeterminate, ChainConstraintsFailure, "the signer's certificate does not allow digital signatures (key usage)")
		return
	}
	for _, ca := range chain[1:] {
		if !ca.IsCA && !d.anchors.has(ca) {
			s.setVerdict(Indeterminate, ChainConstraintsFailure, ca.Subject.String()+" issues certificates but is not a CA")
			return
		}
	}
	claimed := s.rep.ClaimedTime
	// Validity periods.
	for i, cc := range chain {
		if d.anchors.has(cc) && i > 0 {
			continue
		}
		who := "the signer's certificate"
		if i > 0 {
			who = "the CA certificate " + cc.Subject.String()
		}
		if best.Before(cc.NotBefore) || (i == 0 && claimed != nil && claimed.Before(cc.NotBefore) && !s.docTS) {
			s.setVerdict(TotalFailed, NotYetValid, fmt.Sprintf("%s is valid only from %s, after the signature was made", who, cc.NotBefore.UTC().Format(time.RFC3339)))
			return
		}
		if i == 0 && claimed != nil && claimed.After(cc.NotAfter) && !s.docTS {
			s.setVerdict(TotalFailed, Expired, fmt.Sprintf("the signing time %s is after %s expired on %s", claimed.UTC().Format(time.RFC3339), who, cc.NotAfter.UTC().Format(time.RFC3339)))
			return
		}
		if d.now.After(cc.NotAfter) {
			if !hasPOE || best.After(cc.NotAfter) {
				msg := fmt.Sprintf("%s expired on %s and no time-stamp proves the signature was made before%s", who, cc.NotAfter.UTC().Format(time.RFC3339), s.rejectedTokens())
				if hasPOE {
					msg = fmt.Sprintf("%s expired on %s, before the earliest time-stamp (%s)", who, cc.NotAfter.UTC().Format(time.RFC3339), best.Format(time.RFC3339))
				}
				s.setVerdict(Indeterminate, OutOfBoundsNoPOE, msg)
				return
			}
			s.finding(fmt.Sprintf("%s expired on %s; a time-stamp of %s proves the signature existed before", who, cc.NotAfter.UTC().Format(time.RFC3339), best.Format(time.RFC3339)))
		}
	}
	d.checkRevocation(s, chain, best, hasPOE)
}

// checkRevocation checks every certificate of the chain but the anchor.
func (d *doc) checkRevocation(s *sig, chain []*x509.Certificate, best time.Time, hasPOE bool) {
	c := &s.rep.Checks
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		if d.anchors.has(cert) {
			break
		}
		if hasOCSPNoCheck(cert) {
			continue
		}
		st := d.status(cert, issuer, best)
		if (st.status == "unknown" || st.status == "stale") && d.opts.Online {
			d.fetch(cert, issuer)
			st = d.status(cert, issuer, best)
		}
		rep := Revocation{Subject: cert.Subject.String(), Status: st.status, Source: st.source}
		if !st.thisUpdate.IsZero() {
			rep.ThisUpdate = ptr(st.thisUpdate.UTC())
		}
		if st.status == "revoked" {
			rep.RevokedAt = ptr(st.revokedAt.UTC())
		}
		s.rep.Revocation = append(s.rep.Revocation, rep)
		who := "the signer's certificate"
		if i > 0 {
			who = "the CA certificate " + cert.Subject.String()
		}
		switch st.status {
		case "revoked":
			at := st.revokedAt.UTC().Format(time.RFC3339)
			switch {
			case hasPOE && best.Before(st.revokedAt):
				s.finding(fmt.Sprintf("%s was revoked on %s, after the signature's proof of existence (%s)", who, at, best.Format(time.RFC3339)))
				continue
			case hasPOE:
				c.Revocation = CheckFailed
				s.setVerdict(TotalFailed, Revoked, fmt.Sprintf("%s was revoked on %s, before the earliest time-stamp of the signature (%s)", who, at, best.Format(time.RFC3339)))
			case s.rep.ClaimedTime != nil && !s.rep.ClaimedTime.Before(st.revokedAt):
				c.Revocation = CheckFailed
				s.setVerdict(TotalFailed, Revoked, fmt.Sprintf("%s was revoked on %s, before the claimed signing time", who, at))
			default:
				c.Revocation = CheckFailed
				sub := RevokedNoPOE
				if i > 0 {
					sub = RevokedCANoPOE
				}
				s.setVerdict(Indeterminate, sub, fmt.Sprintf("%s was revoked on %s and nothing proves the signature was made before%s", who, at, s.rejectedTokens()))
			}
			return
		case "good":
		case "stale":
			c.Revocation = CheckFailed
			s.setVerdict(Indeterminate, TryLater, fmt.Sprintf("the revocation information for %s (%s) was issued before the signature was made", who, st.thisUpdate.UTC().Format(time.RFC3339)))
			return
		default:
			c.Revocation = CheckFailed
			s.setVerdict(Indeterminate, TryLater, fmt.Sprintf("no revocation information for %s in the file%s", who, map[bool]string{true: " or online", false: " (validate online or add B-LT data)"}[d.opts.Online]))
			return
		}
	}
	c.Revocation = CheckPassed
}

func hasOCSPNoCheck(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.String() == "1.3.6.1.5.5.7.48.1.5" {
			return true
		}
	}
	return false
}

// checkTimestampOrder checks that a signature time-stamp precedes the
// document time-stamps covering the signature.
func (d *doc) checkTimestampOrder(s *sig) {
	var sigTS, docTS time.Time
	for _, t := range s.rep.Timestamps {
		if !t.Valid {
			continue
		}
		if t.Kind == "signature" && (sigTS.IsZero() || t.Time.Before(sigTS)) {
			sigTS = t.Time
		}
		if t.Kind == "document" && (docTS.IsZero() || t.Time.Before(docTS)) && !s.docTS {
			docTS = t.Time
		}
	}
	if !sigTS.IsZero() && !docTS.IsZero() && docTS.Before(sigTS) {
		s.setVerdict(Indeterminate, TimestampOrderFailure, fmt.Sprintf("a document time-stamp (%s) predates the signature time-stamp (%s)", docTS.Format(time.RFC3339), sigTS.Format(time.RFC3339)))
	}
}

// conclude sets the final indication of s.
func (s *sig) conclude() {
	if !s.verdictSet {
		s.ind, s.sub = TotalPassed, ""
	}
	s.rep.Indication, s.rep.SubIndication = s.ind, s.sub
	s.rep.Explanation = explain(s.rep, s.detail)
}

// parseDate parses a PDF date "D:YYYYMMDDHHmmSSOHH'mm'".
func parseDate(v string) (time.Time, bool) {
	if len(v) >= 2 && v[:2] == "D:" {
		v = v[2:]
	}
	if len(v) < 4 {
		return time.Time{}, false
	}
	num := func(i, n, def int) int {
		if len(v) < i+n {
			return def
		}
		x, err := strconv.Atoi(v[i : i+n])
		if err != nil {
			return def
		}
		return x
	}
	y := num(0, 4, -1)
	if y < 0 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(num(4, 2, 1)), num(6, 2, 1), num(8, 2, 0), num(10, 2, 0), num(12, 2, 0), 0, time.UTC)
	if len(v) > 14 && (v[14] == '+' || v[14] == '-') {
		off := time.Duration(num(15, 2, 0))*time.Hour + time.Duration(num(18, 2, 0))*time.Minute
		if v[14] == '+' {
			t = t.Add(-off)
		} else {
			t = t.Add(off)
		}
	}
	return t, true
}
