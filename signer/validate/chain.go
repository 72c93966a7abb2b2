package validate

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"

	"github.com/thiqa/thiqa/signer/validate/internal/cms"
)

// certPool holds the certificates found in the file (CMS, time-stamp
// tokens, DSS), without duplicates.
type certPool struct {
	certs []*x509.Certificate
	seen  map[[32]byte]bool
}

const maxPoolCerts = 2048

func (p *certPool) add(cs ...*x509.Certificate) {
	if p.seen == nil {
		p.seen = map[[32]byte]bool{}
	}
	for _, c := range cs {
		h := sha256.Sum256(c.Raw)
		if p.seen[h] || len(p.certs) >= maxPoolCerts {
			continue
		}
		p.seen[h] = true
		p.certs = append(p.certs, c)
	}
}

// anchorSet holds the trust anchors, matched by certificate or by subject
// and public key.
type anchorSet struct {
	certs []*x509.Certificate
	raw   map[[32]byte]bool
	key   map[string]bool
}

func newAnchorSet(cs []*x509.Certificate) anchorSet {
	a := anchorSet{raw: map[[32]byte]bool{}, key: map[string]bool{}}
	for _, c := range cs {
		if c == nil {
			continue
		}
		a.certs = append(a.certs, c)
		a.raw[sha256.Sum256(c.Raw)] = true
		a.key[string(c.RawSubject)+"\x00"+string(c.RawSubjectPublicKeyInfo)] = true
	}
	return a
}

func (a anchorSet) has(c *x509.Certificate) bool {
	return a.raw[sha256.Sum256(c.Raw)] || a.key[string(c.RawSubject)+"\x00"+string(c.RawSubjectPublicKeyInfo)]
}

// buildChain builds the chain of leaf from the file's certificates and the
// trust anchors, checking each signature. It reports whether the chain
// ends at a trust anchor. Validity periods are judged by the caller.
func (d *doc) buildChain(leaf *x509.Certificate) ([]*x509.Certificate, bool, string) {
	chain := []*x509.Certificate{leaf}
	cur := leaf
	for len(chain) <= d.lim.MaxChainLength {
		if d.anchors.has(cur) {
			return chain, true, ""
		}
		if bytes.Equal(cur.RawIssuer, cur.RawSubject) && d.signedBy(cur, cur) {
			return chain, false, "the chain ends at " + cur.Subject.String() + ", which is not a trust anchor"
		}
		next := d.findIssuer(cur, chain)
		if next == nil {
			return chain, false, "no issuer certificate found for " + cur.Subject.String()
		}
		chain = append(chain, next)
		cur = next
	}
	return chain, false, "chain longer than the limit"
}

func (d *doc) findIssuer(c *x509.Certificate, chain []*x509.Certificate) *x509.Certificate {
	try := func(cands []*x509.Certificate) *x509.Certificate {
		for _, p := range cands {
			if !bytes.Equal(p.RawSubject, c.RawIssuer) {
				continue
			}
			if len(c.AuthorityKeyId) > 0 && len(p.SubjectKeyId) > 0 && !bytes.Equal(c.AuthorityKeyId, p.SubjectKeyId) {
				continue
			}
			dup := false
			for _, e := range chain {
				if e.Equal(p) {
					dup = true
				}
			}
			if dup {
				continue
			}
			if d.signedBy(c, p) {
				return p
			}
		}
		return nil
	}
	if p := try(d.anchors.certs); p != nil {
		return p
	}
	return try(d.pool.certs)
}

// signedBy checks (once per document) that parent's key signed child.
func (d *doc) signedBy(child, parent *x509.Certificate) bool {
	if d.sigCache == nil {
		d.sigCache = map[string]bool{}
	}
	key := string(child.Signature) + "\x00" + string(parent.RawSubjectPublicKeyInfo)
	ok, done := d.sigCache[key]
	if !done {
		ok = cms.CheckCertSignature(child, parent) == nil
		d.sigCache[key] = ok
	}
	return ok
}
