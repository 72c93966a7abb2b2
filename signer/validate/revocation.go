package validate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"io"
	"net/http"
	"time"

	"github.com/thiqa/thiqa/signer/internal/pdf"
	"github.com/thiqa/thiqa/signer/validate/internal/cms"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
)

// revocationData is the OCSP responses and CRLs found in the file (CMS
// revocation info, Adobe's revocation attribute, DSS and VRI) or fetched.
type revocationData struct {
	items []revItem
	seen  map[[32]byte]bool
	limit int
}

type revItem struct {
	der    []byte
	isCRL  bool
	source string
	parsed bool
	ocsp   *ocsp.Response
	crl    *x509.RevocationList
	sigOK  map[*x509.Certificate]bool
}

func (rv *revocationData) add(der []byte, isCRL bool, source string) {
	if rv.seen == nil {
		rv.seen = map[[32]byte]bool{}
	}
	if rv.limit == 0 {
		rv.limit = 512
	}
	h := sha256.Sum256(der)
	if rv.seen[h] || len(rv.items) >= rv.limit {
		return
	}
	rv.seen[h] = true
	rv.items = append(rv.items, revItem{der: der, isCRL: isCRL, source: source})
}

func (rv *revocationData) addCMS(sd *cms.SignedData) {
	for _, c := range sd.CRLs {
		rv.add(c, true, "cms")
	}
	for _, o := range sd.OCSPs {
		rv.add(o, false, "cms")
	}
}

// addAdbe reads Adobe's RevocationInfoArchival attribute value:
// SEQUENCE { [0] SEQUENCE OF CRL, [1] SEQUENCE OF OCSPResponse, ... }.
func (rv *revocationData) addAdbe(val []byte) {
	s := cryptobyte.String(val)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return
	}
	for i := 0; !seq.Empty() && i < 8; i++ {
		var el, list cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1(&el, &tag) || !el.ReadASN1(&list, cbasn1.SEQUENCE) {
			return
		}
		for j := 0; !list.Empty() && j < 256; j++ {
			var item cryptobyte.String
			if !list.ReadASN1Element(&item, cbasn1.SEQUENCE) {
				break
			}
			switch tag {
			case cbasn1.Tag(0).Constructed().ContextSpecific():
				rv.add(item, true, "adbe-revocation-attribute")
			case cbasn1.Tag(1).Constructed().ContextSpecific():
				rv.add(item, false, "adbe-revocation-attribute")
			}
		}
	}
}

// readDSS reads /DSS of the final revision: certificates, OCSP responses
// and CRLs, including those of /VRI entries.
func (d *doc) readDSS() {
	d.rev.limit = d.lim.MaxRevocation
	cat, err := d.final.Catalog()
	if err != nil || cat == nil {
		return
	}
	dss, err := d.final.GetDict(cat["DSS"])
	if err != nil || dss == nil {
		return
	}
	d.readDSSArrays(dss, "dss")
	vri, _ := d.final.GetDict(dss["VRI"])
	n := 0
	for _, v := range vri {
		if n++; n > 1024 {
			break
		}
		if e, _ := d.final.GetDict(v); e != nil {
			d.readDSSArrays(pdf.Dict{"Certs": e["Cert"], "OCSPs": e["OCSP"], "CRLs": e["CRL"]}, "vri")
		}
	}
}

func (d *doc) readDSSArrays(dss pdf.Dict, source string) {
	streams := func(k pdf.Name) [][]byte {
		a, _ := d.final.GetArray(dss[k])
		var out [][]byte
		for i, e := range a {
			if i >= d.lim.MaxRevocation {
				break
			}
			o, err := d.final.Resolve(e)
			st, ok := o.(*pdf.Stream)
			if err != nil || !ok {
				continue
			}
			b, err := d.final.StreamData(st)
			if err == nil {
				out = append(out, b)
			}
		}
		return out
	}
	for _, b := range streams("Certs") {
		if c, err := x509.ParseCertificate(b); err == nil {
			d.pool.add(c)
		}
	}
	for _, b := range streams("OCSPs") {
		d.rev.add(b, false, source)
	}
	for _, b := range streams("CRLs") {
		d.rev.add(b, true, source)
	}
}

// certStatus is the revocation status of one certificate.
type certStatus struct {
	status     string // good, revoked, unknown
	source     string
	thisUpdate time.Time
	revokedAt  time.Time
	reason     int // RFC 5280 CRLReason; 0 also when absent
}

// status finds the revocation status of cert (issued by issuer) in the
// data: the earliest revocation, else the freshest "good" issued no
// earlier than freshness before t.
func (d *doc) status(cert, issuer *x509.Certificate, t time.Time) certStatus {
	st := certStatus{status: "unknown"}
	var good *certStatus
	for i := range d.rev.items {
		it := &d.rev.items[i]
		s, ok := d.check(it, cert, issuer)
		if !ok {
			continue
		}
		if s.status == "revoked" && s.revokedAt.After(d.now) {
			s.status = "good" // revoked only after the validation time
		}
		if s.status == "revoked" {
			if st.status != "revoked" || s.revokedAt.Before(st.revokedAt) {
				st = s
			}
			continue
		}
		if good == nil || s.thisUpdate.After(good.thisUpdate) {
			good = &s
		}
	}
	if st.status == "revoked" {
		return st
	}
	if good != nil {
		if good.thisUpdate.Before(t.Add(-d.opts.RevocationFreshness)) {
			good.status = "stale"
		}
		return *good
	}
	return st
}

// check reads one OCSP response or CRL for cert.
func (d *doc) check(it *revItem, cert, issuer *x509.Certificate) (certStatus, bool) {
	if !it.parsed {
		it.parsed = true
		it.sigOK = map[*x509.Certificate]bool{}
		if it.isCRL {
			it.crl, _ = x509.ParseRevocationList(it.der)
		} else {
			it.ocsp, _ = ocsp.ParseResponse(it.der, nil)
		}
	}
	if it.crl != nil {
		l := it.crl
		if !bytes.Equal(l.RawIssuer, issuer.RawSubject) {
			return certStatus{}, false
		}
		ok, done := it.sigOK[issuer]
		if !done {
			ok = l.CheckSignatureFrom(issuer) == nil
			it.sigOK[issuer] = ok
		}
		if !ok {
			return certStatus{}, false
		}
		for _, e := range l.RevokedCertificateEntries {
			if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return certStatus{status: "revoked", source: "crl/" + it.source, thisUpdate: l.ThisUpdate, revokedAt: e.RevocationTime, reason: e.ReasonCode}, true
			}
		}
		return certStatus{status: "good", source: "crl/" + it.source, thisUpdate: l.ThisUpdate}, true
	}
	r := it.ocsp
	if r == nil || r.SerialNumber == nil || r.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		return certStatus{}, false
	}
	ok, done := it.sigOK[issuer]
	if !done {
		if r.Certificate != nil && !r.Certificate.Equal(issuer) {
			ok = d.signedBy(r.Certificate, issuer) && r.CheckSignatureFrom(r.Certificate) == nil
		} else {
			ok = r.CheckSignatureFrom(issuer) == nil
		}
		it.sigOK[issuer] = ok
	}
	if !ok {
		return certStatus{}, false
	}
	switch r.Status {
	case ocsp.Good:
		return certStatus{status: "good", source: "ocsp/" + it.source, thisUpdate: r.ThisUpdate}, true
	case ocsp.Revoked:
		return certStatus{status: "revoked", source: "ocsp/" + it.source, thisUpdate: r.ThisUpdate, revokedAt: r.RevokedAt, reason: r.RevocationReason}, true
	}
	return certStatus{}, false
}

// fetch asks the certificate's OCSP responders and CRL distribution
// points (Options.Online).
func (d *doc) fetch(cert, issuer *x509.Certificate) {
	client := d.opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	get := func(method, url string, body []byte, ctype string) []byte {
		ctx, cancel := context.WithTimeout(d.ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return nil
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		if err != nil {
			return nil
		}
		return b
	}
	for i, u := range cert.OCSPServer {
		if i >= 2 {
			break
		}
		req, err := ocsp.CreateRequest(cert, issuer, nil)
		if err != nil {
			continue
		}
		if b := get(http.MethodPost, u, req, "application/ocsp-request"); b != nil {
			d.rev.add(b, false, "online")
			return
		}
	}
	for i, u := range cert.CRLDistributionPoints {
		if i >= 2 {
			break
		}
		if b := get(http.MethodGet, u, nil, ""); b != nil {
			d.rev.add(b, true, "online")
			return
		}
	}
}
