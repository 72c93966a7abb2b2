package signer

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// checkExternalCMS checks a CMS SignedData made outside the signer before
// it is embedded (Prepared.CompleteCMS): a detached SignedData with one
// SignerInfo whose signed attributes carry a message-digest equal to
// docDigest and whose signature verifies with cert's key under opts. It
// does not judge the CMS's other contents (certificates, unsigned
// attributes): the validator does.
func checkExternalCMS(der, docDigest []byte, cert *x509.Certificate, p *Prepared) error {
	bad := func(what string) error { return fmt.Errorf("%w: external CMS: %s", ErrSignature, what) }
	s := cryptobyte.String(der)
	var ci, sd, content cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&ci, cbasn1.SEQUENCE) || !s.Empty() ||
		!ci.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidSignedData) ||
		!ci.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!content.ReadASN1(&sd, cbasn1.SEQUENCE) {
		return bad("not a DER ContentInfo with SignedData")
	}
	var version int64
	var digestAlgs, encap, signerInfos cryptobyte.String
	if !sd.ReadASN1Integer(&version) || !sd.ReadASN1(&digestAlgs, cbasn1.SET) || !sd.ReadASN1(&encap, cbasn1.SEQUENCE) {
		return bad("malformed SignedData")
	}
	var eType asn1.ObjectIdentifier
	if !encap.ReadASN1ObjectIdentifier(&eType) || !encap.Empty() {
		return bad("the content is encapsulated, not detached")
	}
	sd.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) // certificates
	sd.SkipOptionalASN1(cbasn1.Tag(1).Constructed().ContextSpecific()) // crls
	if !sd.ReadASN1(&signerInfos, cbasn1.SET) || !sd.Empty() {
		return bad("malformed SignedData")
	}
	var si cryptobyte.String
	if !signerInfos.ReadASN1(&si, cbasn1.SEQUENCE) || !signerInfos.Empty() {
		return bad("want exactly one SignerInfo")
	}
	var sid, digestAlg, sigAlg cryptobyte.String
	var attrs []byte
	var sig []byte
	var sidTag cbasn1.Tag
	if !si.ReadASN1Integer(&version) || !si.ReadAnyASN1Element(&sid, &sidTag) || !si.ReadASN1(&digestAlg, cbasn1.SEQUENCE) {
		return bad("malformed SignerInfo")
	}
	var signed cryptobyte.String
	if !si.ReadASN1Element(&signed, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return bad("no signed attributes")
	}
	// The signature covers the attributes with the SET tag.
	attrs = append([]byte{0x31}, signed[1:]...)
	if !si.ReadASN1(&sigAlg, cbasn1.SEQUENCE) || !si.ReadASN1Bytes(&sig, cbasn1.OCTET_STRING) {
		return bad("malformed SignerInfo")
	}
	md, err := messageDigestOf(attrs)
	if err != nil {
		return bad(err.Error())
	}
	if !bytes.Equal(md, docDigest) {
		return bad("its message-digest is not the prepared document's digest")
	}
	h := p.opts.Hash.New()
	h.Write(attrs)
	if err := verifySignature(cert.PublicKey, h.Sum(nil), sig, p.cms.signerOpts()); err != nil {
		return bad("the signature does not verify with the signer certificate's key")
	}
	return nil
}

// messageDigestOf returns the single value of the message-digest attribute
// in a DER SET OF Attribute.
func messageDigestOf(attrs []byte) ([]byte, error) {
	s := cryptobyte.String(attrs)
	var set cryptobyte.String
	if !s.ReadASN1(&set, cbasn1.SET) || !s.Empty() {
		return nil, fmt.Errorf("malformed signed attributes")
	}
	var found []byte
	n := 0
	for !set.Empty() {
		var attr, values cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !set.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&oid) || !attr.ReadASN1(&values, cbasn1.SET) {
			return nil, fmt.Errorf("malformed signed attribute")
		}
		if !oid.Equal(oidAttrMessageDigest) {
			continue
		}
		n++
		if !values.ReadASN1Bytes(&found, cbasn1.OCTET_STRING) || !values.Empty() {
			return nil, fmt.Errorf("malformed message-digest attribute")
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%d message-digest attributes, want 1", n)
	}
	return found, nil
}
