package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// Level is a PAdES baseline level (ETSI EN 319 142-1).
type Level int

// PAdES baseline levels.
const (
	LevelBB   Level = iota // B-B: CAdES signature only
	LevelBT                // B-T: plus a signature time-stamp
	LevelBLT               // B-LT: plus /DSS with certificates, OCSP and CRLs
	LevelBLTA              // B-LTA: plus a document time-stamp
)

const defaultHash = crypto.SHA256

var levelNames = [...]string{"B-B", "B-T", "B-LT", "B-LTA"}

// String returns "B-B", "B-T", "B-LT" or "B-LTA".
func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return "Level(" + strconv.Itoa(int(l)) + ")"
	}
	return levelNames[l]
}

// ParseLevel parses "B-B", "B-T", "B-LT" or "B-LTA".
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if n == s {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("%w: level %q (want B-B, B-T, B-LT or B-LTA)", ErrOptions, s)
}

// Visible places a visible signature appearance. The appearance itself is
// a form XObject built by the caller or by package appearance.
type Visible struct {
	Page int        // 1-based page number
	Rect [4]float64 // llx, lly, urx, ury in default user space
}

// Options configure a signature. Certificate is required; everything else
// has a safe default (B-B, SHA-256, invisible, no certification).
type Options struct {
	// Certificate is the signer's certificate; Chain holds the
	// intermediates and optionally the root, all put in the CMS.
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
	// Hash is SHA-256 (default), SHA-384 or SHA-512.
	Hash crypto.Hash
	// PSS selects RSASSA-PSS for an RSA key (default PKCS#1 v1.5).
	PSS bool
	// Level is the PAdES baseline level (default B-B).
	Level Level
	// Time is the signing time written to /M; zero means Clock().
	Time time.Time
	// Clock gives the time when Time is zero; nil means time.Now.
	Clock func() time.Time
	// Reason, Location and ContactInfo go in the signature dictionary.
	Reason, Location, ContactInfo string
	// FieldName names the signature field; default "Signature<n>".
	FieldName string
	// Certify makes a certification signature with DocMDP permission P
	// (1 no changes, 2 form filling and signing, 3 also annotations); 0
	// makes an approval signature.
	Certify int
	// Visible places the widget; nil makes an invisible signature on the
	// first page.
	Visible *Visible
	// Appearance builds the visible appearance (see [AppearanceFunc]);
	// used only with Visible.
	Appearance AppearanceFunc
	// Timestamper gives signature and document time-stamps (B-T and up).
	Timestamper Timestamper
	// TimestampReserve is the space in bytes reserved for a time-stamp
	// token; zero asks the Timestamper ([TokenSizer]) or probes it once.
	TimestampReserve int
	// Revocation fetches OCSP responses and CRLs for B-LT and B-LTA.
	Revocation RevocationSource
	// ExtraCertificates help build the chains of the time-stamping unit
	// and of OCSP responders (for B-LT); the signer's Chain is used too.
	ExtraCertificates []*x509.Certificate
	// Rand is used for time-stamp nonces and signing in [Sign]; nil means
	// crypto/rand.
	Rand io.Reader
}

func (o *Options) now() time.Time {
	if !o.Time.IsZero() {
		return o.Time
	}
	if o.Clock != nil {
		return o.Clock()
	}
	return time.Now()
}

func (o *Options) rand() io.Reader {
	if o.Rand != nil {
		return o.Rand
	}
	return rand.Reader
}

func (o *Options) check() error {
	if o.Certificate == nil {
		return fmt.Errorf("%w: no signer certificate", ErrOptions)
	}
	if o.Hash == 0 {
		o.Hash = defaultHash
	}
	if o.Level < LevelBB || o.Level > LevelBLTA {
		return fmt.Errorf("%w: level %v", ErrOptions, o.Level)
	}
	if o.Level >= LevelBT && o.Timestamper == nil {
		return fmt.Errorf("%w: level %v needs a Timestamper", ErrOptions, o.Level)
	}
	if o.Level >= LevelBLT && o.Revocation == nil {
		return fmt.Errorf("%w: level %v needs a RevocationSource", ErrOptions, o.Level)
	}
	if o.Certify < 0 || o.Certify > 3 {
		return fmt.Errorf("%w: certification permission %d (want 1, 2 or 3)", ErrOptions, o.Certify)
	}
	return nil
}

// Prepared is a signature prepared by [Prepare]: the incremental update
// with its placeholder, waiting for the signature value. It holds the
// update in memory and reads the input again (through the io.ReaderAt
// given to Prepare) when it writes the result, so the input must stay
// unchanged until [Prepared.WriteTo] returns.
type Prepared struct {
	opts        Options
	base        io.ReaderAt
	size        int64
	tail        []byte
	cms         *cmsSigner
	signedAttrs []byte
	digest      []byte
	docDigest   []byte
	cStart      int // hex placeholder within tail, after '<'
	cEnd        int // before '>'
	completed   bool
	id          string
	// keyChecked is set by Sign after checking that the key's public key
	// is the certificate's: the signature value then needs no check.
	keyChecked bool
}

// SignatureID returns the random identifier of this signature, encoded in
// the visible stamp's QR code; the service stores it to find the
// signature again. It is empty for an invisible signature.
func (p *Prepared) SignatureID() string { return p.id }

// Digest returns the digest of the signed attributes: what the signer's
// key signs (crypto.Signer.Sign(rand, digest, opts)).
func (p *Prepared) Digest() []byte { return append([]byte(nil), p.digest...) }

// DocumentDigest returns the digest of the signed byte ranges of the PDF
// (the message-digest attribute).
func (p *Prepared) DocumentDigest() []byte { return append([]byte(nil), p.docDigest...) }

// SignerOpts returns the options for crypto.Signer.Sign (the hash, or PSS
// options).
func (p *Prepared) SignerOpts() crypto.SignerOpts { return p.cms.signerOpts() }

// Prepare reads the PDF in r (size bytes), builds the incremental update
// that adds the signature with a /Contents placeholder sized for the CMS,
// and returns it with the digest to sign (see [Prepared.Digest]).
func Prepare(ctx context.Context, r io.ReaderAt, size int64, opts *Options) (*Prepared, []byte, error) {
	if opts == nil {
		return nil, nil, fmt.Errorf("%w: no options", ErrOptions)
	}
	o := *opts
	if err := o.check(); err != nil {
		return nil, nil, err
	}
	o.Time = o.now() // one signing time for /M and the stamp
	cs, err := newCMSSigner(o.Certificate, o.Chain, o.Hash, o.PSS)
	if err != nil {
		return nil, nil, err
	}
	reserve := 0
	if o.Level >= LevelBT {
		if reserve, err = tokenReserve(ctx, o.Timestamper, o.TimestampReserve, o.Hash); err != nil {
			return nil, nil, err
		}
	}
	p := &Prepared{opts: o, base: r, size: size, cms: cs}
	if o.Visible != nil {
		var id [16]byte
		if _, err := io.ReadFull(o.rand(), id[:]); err != nil {
			return nil, nil, fmt.Errorf("signature identifier: %w", err)
		}
		p.id = base64.RawURLEncoding.EncodeToString(id[:])
	}
	sigDict := func(contentsLen int, lock pdf.Dict) rawObject {
		return signatureDict(&o, contentsLen, lock)
	}
	spec := revisionSpec{
		dict:        sigDict,
		contentsLen: cs.maxSize(reserve),
		certify:     o.Certify,
		visible:     o.Visible,
		appearance:  o.Appearance,
		fieldName:   o.FieldName,
		hash:        o.Hash,
		time:        o.now(),
		id:          p.id,
	}
	tail, cStart, cEnd, docDigest, err := appendRevision(ctx, r, size, nil, spec)
	if err != nil {
		return nil, nil, err
	}
	p.tail, p.cStart, p.cEnd, p.docDigest = tail, cStart, cEnd, docDigest
	p.signedAttrs = cs.signedAttributes(docDigest)
	h := o.Hash.New()
	h.Write(p.signedAttrs)
	p.digest = h.Sum(nil)
	return p, p.Digest(), nil
}

// signatureDict writes the signature dictionary with placeholders. lock
// is the /Lock of the signature field being filled, if any: the signature
// then carries the FieldMDP transform that makes the lock binding (ISO
// 32000-1 12.7.4.5 and 12.8.2.4).
func signatureDict(o *Options, contentsLen int, lock pdf.Dict) rawObject {
	b := []byte("<</Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached ")
	b = appendPlaceholders(b, contentsLen)
	b = append(b, " /M "...)
	b = pdf.AppendLiteralString(b, pdfDate(o.now()))
	for _, kv := range []struct {
		k pdf.Name
		v string
	}{{"Reason", o.Reason}, {"Location", o.Location}, {"ContactInfo", o.ContactInfo}} {
		if kv.v != "" {
			b = append(b, ' ')
			b = pdf.AppendName(b, kv.k)
			b = append(b, ' ')
			b = pdf.AppendObject(b, textString(kv.v))
		}
	}
	var refs pdf.Array
	if o.Certify != 0 {
		refs = append(refs, pdf.Dict{
			"Type": pdf.Name("SigRef"), "TransformMethod": pdf.Name("DocMDP"),
			"TransformParams": pdf.Dict{"Type": pdf.Name("TransformParams"), "P": pdf.Int(o.Certify), "V": pdf.Name("1.2")},
		})
	}
	if params := fieldMDPParams(lock); params != nil {
		refs = append(refs, pdf.Dict{"Type": pdf.Name("SigRef"), "TransformMethod": pdf.Name("FieldMDP"), "TransformParams": params})
	}
	if len(refs) > 0 {
		b = append(b, " /Reference "...)
		b = pdf.AppendObject(b, refs)
	}
	return append(b, ">>"...)
}

// fieldMDPParams returns the FieldMDP transform parameters of a field's
// /Lock dictionary (already resolved), or nil when there is no usable
// lock. Field names must be strings, as the /Lock's /Fields.
func fieldMDPParams(lock pdf.Dict) pdf.Dict {
	action, _ := lock["Action"].(pdf.Name)
	if action != "All" && action != "Include" && action != "Exclude" {
		return nil
	}
	params := pdf.Dict{"Type": pdf.Name("TransformParams"), "Action": action, "V": pdf.Name("1.2")}
	if action != "All" {
		fields, _ := lock["Fields"].(pdf.Array)
		var names pdf.Array
		for _, f := range fields {
			if s, ok := f.(pdf.String); ok {
				names = append(names, s)
			}
		}
		params["Fields"] = names
	}
	return params
}

func appendPlaceholders(b []byte, contentsLen int) []byte {
	b = append(b, byteRangeMarker...)
	b = append(b, "0 0000000000 0000000000 0000000000] /Contents <"...)
	b = append(b, bytes.Repeat([]byte{'0'}, 2*contentsLen)...)
	return append(b, '>')
}

// pdfDate formats t as a PDF date in UTC.
func pdfDate(t time.Time) string {
	return "D:" + t.UTC().Format("20060102150405") + "Z"
}

// revisionSpec describes one signature revision (signature or document
// time-stamp).
type revisionSpec struct {
	dict        func(contentsLen int, lock pdf.Dict) rawObject
	contentsLen int
	certify     int
	visible     *Visible
	appearance  AppearanceFunc
	fieldName   string
	fieldPrefix string
	hash        crypto.Hash
	time        time.Time
	docTS       bool
	id          string
}

// appendRevision reads the document base+tail, appends a revision adding
// a signature field whose value is spec.dict, fills in the /ByteRange and
// returns the new tail, the hex placeholder span in it and the digest of
// the signed ranges.
func appendRevision(ctx context.Context, base io.ReaderAt, size int64, tail []byte, spec revisionSpec) ([]byte, int, int, []byte, error) {
	m := &multiReaderAt{base: base, baseSize: size, tail: tail}
	rd, err := openDocument(m, m.size(), !spec.docTS)
	if err != nil {
		return nil, 0, 0, nil, err
	}
	st, err := inspect(rd)
	if err != nil {
		return nil, 0, 0, nil, err
	}
	if err := checkDocMDP(st, spec); err != nil {
		return nil, 0, 0, nil, err
	}
	u := newUpdate(rd)
	w := widgetSpec{name: spec.fieldName, perms: spec.certify != 0}
	if w.name == "" {
		prefix := spec.fieldPrefix
		if prefix == "" {
			prefix = "Signature"
		}
		w.name = st.fieldName(prefix)
	}
	var lock pdf.Dict
	if fi, ok := st.fields[w.name]; ok && fi.sig {
		lock, _ = rd.GetDict(fi.dict["Lock"])
	}
	sigRef := u.add(spec.dict(spec.contentsLen, lock))
	if spec.visible != nil {
		w.page = spec.visible.Page - 1
		w.rect = spec.visible.Rect
		if spec.appearance != nil {
			ap, err := addAppearance(u, spec.appearance, AppearanceInfo{
				Width: spec.visible.Rect[2] - spec.visible.Rect[0], Height: spec.visible.Rect[3] - spec.visible.Rect[1],
				Time: spec.time, FieldName: w.name, ID: spec.id,
			})
			if err != nil {
				return nil, 0, 0, nil, err
			}
			w.ap = ap
		}
	}
	if _, err := addField(u, rd, st, sigRef, w); err != nil {
		return nil, 0, 0, nil, err
	}
	upd := u.bytes(m.size(), !endsWithEOL(m, m.size()))
	br, cStart, cEnd, err := placeholder(upd)
	if err != nil {
		return nil, 0, 0, nil, err
	}
	// ByteRange [0 a b c]: a = offset of '<', b = offset after '>'.
	start := m.size()
	a := start + int64(cStart)
	b := start + int64(cEnd)
	c := start + int64(len(upd)) - b
	if err := patchByteRange(upd[br+len(byteRangeMarker):], a, b, c); err != nil {
		return nil, 0, 0, nil, err
	}
	h := spec.hash.New()
	if err := hashRange(h, m, 0, start); err != nil {
		return nil, 0, 0, nil, err
	}
	h.Write(upd[:cStart])
	h.Write(upd[cEnd:])
	newTail := append(append(make([]byte, 0, len(tail)+len(upd)), tail...), upd...)
	off := len(tail)
	return newTail, off + cStart + 1, off + cEnd - 1, h.Sum(nil), nil
}

// checkObjects reads every object of a file whose xref was rebuilt by
// scanning, so that a truncated or damaged file is refused instead of
// being signed with an xref that lists broken objects.
func checkObjects(rd *pdf.Reader) error {
	for _, n := range rd.ObjectNumbers() {
		if _, err := rd.Get(pdf.Ref{Num: n, Gen: rd.Entry(n).Gen}); err != nil {
			return fmt.Errorf("%w: damaged file (xref rebuilt by scanning): %w", ErrDamaged, err)
		}
	}
	return nil
}

// checkDocMDP refuses what the certification signature forbids. A
// document time-stamp (and the /DSS before it) is allowed even under P=1
// (ETSI EN 319 142-1, 5.4: validation data and document time-stamps do not
// invalidate a certification signature).
func checkDocMDP(st *docState, spec revisionSpec) error {
	if st.docMDP == 1 && !spec.docTS {
		return fmt.Errorf("%w: the document is certified with P=1 (no changes)", ErrDocMDP)
	}
	if spec.certify != 0 && (st.signed > 0 || st.docMDP != 0) {
		return ErrCertifyNotFirst
	}
	return nil
}

func patchByteRange(b []byte, a, bb, c int64) error {
	const width = len("0 0000000000 0000000000 0000000000")
	s := fmt.Sprintf("0 %d %d %d", a, bb, c)
	if len(s) > width {
		return fmt.Errorf("%w: file too large for the byte range placeholder", ErrOptions)
	}
	copy(b, s)
	for i := len(s); i < width; i++ {
		b[i] = ' '
	}
	return nil
}

// copyBuffers holds 64 KiB buffers for hashing and copying inputs.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// hashRange streams r[off:off+n] into h.
func hashRange(h hash.Hash, r io.ReaderAt, off, n int64) error {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	if _, err := io.CopyBuffer(h, io.NewSectionReader(r, off, n), *bp); err != nil {
		return fmt.Errorf("hash byte range: %w", err)
	}
	return nil
}

// Complete embeds the signature value made over [Prepared.Digest],
// time-stamps it (B-T and up), and adds the validation data (B-LT) and
// the document time-stamp (B-LTA).
func (p *Prepared) Complete(ctx context.Context, signature []byte) error {
	if p.completed {
		return fmt.Errorf("complete: %w", ErrState)
	}
	if !p.keyChecked {
		if err := verifySignature(p.opts.Certificate.PublicKey, p.digest, signature, p.cms.signerOpts()); err != nil {
			return err
		}
	}
	var unsigned [][]byte
	var tsaCerts []*x509.Certificate
	if p.opts.Level >= LevelBT {
		h := p.opts.Hash.New()
		h.Write(signature)
		tok, certs, err := requestToken(ctx, p.opts.Timestamper, p.opts.Hash, h.Sum(nil))
		if err != nil {
			return err
		}
		unsigned = append(unsigned, attribute(oidAttrTimeStamp, tok))
		tsaCerts = certs
	}
	cms := p.cms.encode(p.signedAttrs, signature, unsigned)
	return p.finish(ctx, cms, tsaCerts)
}

// CompleteCMS embeds a complete CMS SignedData made elsewhere; the B-LT
// and B-LTA steps still apply. It must be detached, with one SignerInfo
// whose message-digest is [Prepared.DocumentDigest] and whose signature
// verifies with the signer certificate's key (hash and padding as
// [Prepared.SignerOpts]); otherwise it is refused with [ErrSignature] and
// the Prepared stays open.
func (p *Prepared) CompleteCMS(ctx context.Context, cms []byte) error {
	if p.completed {
		return fmt.Errorf("complete: %w", ErrState)
	}
	if err := checkExternalCMS(cms, p.docDigest, p.opts.Certificate, p); err != nil {
		return err
	}
	return p.finish(ctx, cms, nil)
}

func (p *Prepared) finish(ctx context.Context, cms []byte, tsaCerts []*x509.Certificate) error {
	if 2*len(cms) > p.cEnd-p.cStart {
		return fmt.Errorf("%w: %d bytes, %d reserved", ErrContentsTooSmall, len(cms), (p.cEnd-p.cStart)/2)
	}
	hexEncode(p.tail[p.cStart:p.cEnd], cms)
	p.completed = true
	if p.opts.Level >= LevelBLT {
		certs := append([]*x509.Certificate{p.opts.Certificate}, p.opts.Chain...)
		tail, err := addValidationData(ctx, p.base, p.size, p.tail, &p.opts, certs, tsaCerts)
		if err != nil {
			return err
		}
		p.tail = tail
	}
	if p.opts.Level >= LevelBLTA {
		tail, err := addDocTimestamp(ctx, p.base, p.size, p.tail, &p.opts)
		if err != nil {
			return err
		}
		p.tail = tail
	}
	return nil
}

// WriteTo writes the signed PDF: the input, unchanged, then the updates.
func (p *Prepared) WriteTo(w io.Writer) (int64, error) {
	if !p.completed {
		return 0, fmt.Errorf("write signed pdf: %w: not completed", ErrState)
	}
	return writeDocument(w, p.base, p.size, p.tail)
}

// writeDocument writes base[:size] followed by tail.
func writeDocument(w io.Writer, base io.ReaderAt, size int64, tail []byte) (int64, error) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	n, err := io.CopyBuffer(w, io.NewSectionReader(base, 0, size), *bp)
	if err != nil {
		return n, fmt.Errorf("write signed pdf: %w", err)
	}
	m, err := w.Write(tail)
	n += int64(m)
	if err != nil {
		return n, fmt.Errorf("write signed pdf: %w", err)
	}
	return n, nil
}

// Len returns the size of the signed PDF.
func (p *Prepared) Len() int64 { return p.size + int64(len(p.tail)) }

func verifySignature(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		var err error
		if po, isPSS := opts.(*rsa.PSSOptions); isPSS {
			err = rsa.VerifyPSS(k, po.Hash, digest, sig, po)
		} else {
			err = rsa.VerifyPKCS1v15(k, opts.HashFunc(), digest, sig)
		}
		ok = err == nil
	}
	if !ok {
		return ErrSignature
	}
	return nil
}

// Sign signs the PDF in r (size bytes) with key in one step and writes the
// signed PDF to w.
func Sign(ctx context.Context, r io.ReaderAt, size int64, w io.Writer, key crypto.Signer, opts *Options) error {
	p, err := prepareAndSign(ctx, r, size, key, opts)
	if err != nil {
		return err
	}
	_, err = p.WriteTo(w)
	return err
}

// prepareAndSign runs Prepare and Complete with a key whose public key
// must be the certificate's.
func prepareAndSign(ctx context.Context, r io.ReaderAt, size int64, key crypto.Signer, opts *Options) (*Prepared, error) {
	p, digest, err := Prepare(ctx, r, size, opts)
	if err != nil {
		return nil, err
	}
	// Standard public keys have Equal; for others Complete verifies the
	// signature value instead.
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if ok && !pub.Equal(p.opts.Certificate.PublicKey) {
		return nil, fmt.Errorf("%w: the key does not match the certificate", ErrSignature)
	}
	sig, err := key.Sign(p.opts.rand(), digest, p.SignerOpts())
	if err != nil {
		return nil, fmt.Errorf("sign digest: %w", err)
	}
	p.keyChecked = ok
	if err := p.Complete(ctx, sig); err != nil {
		return nil, err
	}
	return p, nil
}

// hexEncode writes src in hex at the start of dst and pads with '0'.
func hexEncode(dst, src []byte) {
	n := hex.Encode(dst, src)
	for i := n; i < len(dst); i++ {
		dst[i] = '0'
	}
}
