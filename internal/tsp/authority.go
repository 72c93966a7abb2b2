package tsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Options are the settings of an [Authority]. Only Policy is required.
type Options struct {
	// Policy is the TSA policy OID put in TSTInfo. Required.
	Policy asn1.ObjectIdentifier
	// AcceptPolicies are reqPolicy values accepted besides Policy; a token
	// issued for one of them carries the requested policy. Nil accepts only
	// Policy.
	AcceptPolicies []asn1.ObjectIdentifier
	// Accuracy is the accuracy of genTime. Zero means one second. genTime
	// carries a fraction of a second when Accuracy is below one second.
	Accuracy time.Duration
	// Clock gives the time put in tokens. Nil means time.Now.
	Clock func() time.Time
	// Rand gives serial numbers. Nil means crypto/rand. Reads are
	// serialised, so a Rand need not be safe for concurrent use.
	Rand io.Reader
	// MaxRequestBytes bounds request bodies read by ServeHTTP. Zero means
	// 4096.
	MaxRequestBytes int64
	// OnError, if set, is called by ServeHTTP with internal failures (for
	// example a failing key), so that the server can log them. It must be
	// safe for concurrent use.
	OnError func(error)
	// Qualified marks tokens as qualified electronic time-stamps (eIDAS):
	// TSTInfo then carries the qcStatements extension with
	// esi4-qtstStatement-1 (ETSI EN 319 422 section 9.1).
	Qualified bool
}

// Authority answers time-stamp requests with tokens signed by one
// time-stamping unit. It is safe for concurrent use.
type Authority struct {
	key        crypto.Signer
	cert       *x509.Certificate
	signHash   crypto.Hash
	clock      func() time.Time
	rand       io.Reader // nil: crypto/rand
	randMu     sync.Mutex
	maxRequest int64
	onError    func(error)
	resolution time.Duration // genTime precision

	policy   asn1.ObjectIdentifier
	accepted []asn1.ObjectIdentifier

	// Precomputed DER.
	policyDER       []byte
	accuracyDER     []byte // Accuracy, nil to omit
	tsaNameDER      []byte // [0] GeneralName of the TSU
	extensionsDER   []byte // [1] IMPLICIT Extensions, nil to omit
	digestAlgDER    []byte // AlgorithmIdentifier of signHash
	sigAlgDER       []byte // AlgorithmIdentifier of the signature
	sidDER          []byte // IssuerAndSerialNumber
	certsDER        []byte // [0] IMPLICIT CertificateSet, TSU cert and chain
	attrContentType []byte
	attrSigningCert []byte
}

var (
	oidSignedData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidAttrContentType     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningCertV2   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidECDSAWithSHA256     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSHA256WithRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidExtKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidQCStatements        = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 3}
	oidQTSTStatement1      = asn1.ObjectIdentifier{0, 4, 0, 19422, 1, 1}
	defaultMaxRequestBytes = int64(4096)
)

// New returns an Authority that signs with key. cert is the TSU certificate
// for key: its extended key usage must be exactly id-kp-timeStamping and
// critical (RFC 3161 section 2.3). chain holds the intermediate
// certificates, with or without the root, and is put in tokens with cert
// when a request sets certReq.
func New(key crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate, opts Options) (*Authority, error) {
	if key == nil || cert == nil {
		return nil, fmt.Errorf("new authority: %w: key and certificate are required", ErrCertificate)
	}
	if err := checkCertificate(key, cert); err != nil {
		return nil, fmt.Errorf("new authority: %w", err)
	}
	a := &Authority{
		key:        key,
		cert:       cert,
		clock:      opts.Clock,
		rand:       opts.Rand,
		maxRequest: opts.MaxRequestBytes,
		onError:    opts.OnError,
		policy:     slices.Clone(opts.Policy),
	}
	if err := a.setOptions(opts); err != nil {
		return nil, fmt.Errorf("new authority: %w", err)
	}
	var sigOID asn1.ObjectIdentifier
	var err error
	a.signHash, sigOID, err = signatureAlgorithm(key.Public())
	if err != nil {
		return nil, fmt.Errorf("new authority: %w", err)
	}
	if err := a.precompute(sigOID, chain); err != nil {
		return nil, fmt.Errorf("new authority: %w", err)
	}
	return a, nil
}

func (a *Authority) setOptions(opts Options) error {
	if a.clock == nil {
		a.clock = time.Now
	}
	if a.maxRequest == 0 {
		a.maxRequest = defaultMaxRequestBytes
	}
	if a.maxRequest < 0 {
		return fmt.Errorf("%w: negative MaxRequestBytes", ErrOptions)
	}
	if len(a.policy) < 2 {
		return fmt.Errorf("%w: a policy OID is required", ErrOptions)
	}
	for _, p := range opts.AcceptPolicies {
		if len(p) < 2 {
			return fmt.Errorf("%w: invalid accepted policy %v", ErrOptions, p)
		}
		a.accepted = append(a.accepted, slices.Clone(p))
	}
	acc := opts.Accuracy
	if acc == 0 {
		acc = time.Second
	}
	if acc < 0 {
		return fmt.Errorf("%w: negative accuracy", ErrOptions)
	}
	switch {
	case acc >= time.Second:
		a.resolution = time.Second
	case acc >= time.Millisecond:
		a.resolution = time.Millisecond
	default:
		a.resolution = time.Microsecond
	}
	a.accuracyDER = encodeAccuracy(acc)
	if opts.Qualified {
		a.extensionsDER = qcStatementsDER
	}
	return nil
}

func checkCertificate(key crypto.Signer, cert *x509.Certificate) error {
	if len(cert.Raw) == 0 || len(cert.RawIssuer) == 0 || len(cert.RawSubject) == 0 || cert.SerialNumber == nil {
		return fmt.Errorf("%w: not a parsed certificate", ErrCertificate)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return fmt.Errorf("%w: key does not match certificate", ErrCertificate)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping ||
		len(cert.UnknownExtKeyUsage) != 0 {
		return fmt.Errorf("%w: extended key usage must be exactly timeStamping", ErrCertificate)
	}
	critical := false
	for _, e := range cert.Extensions {
		if e.Id.Equal(oidExtKeyUsage) {
			critical = e.Critical
		}
	}
	if !critical {
		return fmt.Errorf("%w: extended key usage extension must be critical", ErrCertificate)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return fmt.Errorf("%w: key usage allows no signatures", ErrCertificate)
	}
	return nil
}

func signatureAlgorithm(pub crypto.PublicKey) (crypto.Hash, asn1.ObjectIdentifier, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return crypto.SHA256, oidECDSAWithSHA256, nil
		case elliptic.P384():
			return crypto.SHA384, oidECDSAWithSHA384, nil
		case elliptic.P521():
			return crypto.SHA512, oidECDSAWithSHA512, nil
		}
		return 0, nil, fmt.Errorf("%w: ECDSA curve %s", ErrKey, k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return 0, nil, fmt.Errorf("%w: RSA key of %d bits", ErrKey, k.N.BitLen())
		}
		return crypto.SHA256, oidSHA256WithRSA, nil
	}
	return 0, nil, fmt.Errorf("%w: %T", ErrKey, pub)
}

func (a *Authority) precompute(sigOID asn1.ObjectIdentifier, chain []*x509.Certificate) error {
	cert := a.cert
	var err error
	if a.policyDER, err = build(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(a.policy) }); err != nil {
		return fmt.Errorf("%w: encode policy: %v", ErrOptions, err)
	}
	for _, p := range a.accepted {
		if _, err := build(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(p) }); err != nil {
			return fmt.Errorf("%w: encode accepted policy: %v", ErrOptions, err)
		}
	}
	a.tsaNameDER = mustBuild(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddBytes(cert.RawSubject)
			})
		})
	})
	a.digestAlgDER = mustBuild(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidFromHash(a.signHash))
			b.AddASN1NULL()
		})
	})
	a.sigAlgDER = mustBuild(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(sigOID)
			if sigOID.Equal(oidSHA256WithRSA) {
				b.AddASN1NULL()
			}
		})
	})
	a.sidDER = mustBuild(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(cert.RawIssuer)
			b.AddASN1BigInt(cert.SerialNumber)
		})
	})
	a.certsDER = encodeCertificates(cert, chain)
	a.attrContentType = mustBuild(func(b *cryptobyte.Builder) {
		addAttribute(b, oidAttrContentType, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidTSTInfo) })
	})
	certHash := sha256.Sum256(cert.Raw)
	a.attrSigningCert = mustBuild(func(b *cryptobyte.Builder) {
		addAttribute(b, oidAttrSigningCertV2, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2, hashAlgorithm DEFAULT sha256
						b.AddASN1OctetString(certHash[:])
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
								b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
									b.AddBytes(cert.RawIssuer)
								})
							})
							b.AddASN1BigInt(cert.SerialNumber)
						})
					})
				})
			})
		})
	})
	return nil
}

// qcStatementsDER is the TSTInfo extensions field of a qualified
// time-stamp: [1] IMPLICIT Extensions holding qcStatements with
// esi4-qtstStatement-1 (ETSI EN 319 422 section 9.1), not critical.
var qcStatementsDER = mustBuild(func(b *cryptobyte.Builder) {
	b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // Extension
			b.AddASN1ObjectIdentifier(oidQCStatements)
			b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // QCStatements
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // QCStatement
						b.AddASN1ObjectIdentifier(oidQTSTStatement1)
					})
				})
			})
		})
	})
})

// encodeCertificates returns the [0] IMPLICIT CertificateSet holding cert and
// chain, without duplicates, sorted as DER requires for a SET OF.
func encodeCertificates(cert *x509.Certificate, chain []*x509.Certificate) []byte {
	raws := [][]byte{cert.Raw}
	for _, c := range chain {
		if c != nil && len(c.Raw) > 0 && !slices.ContainsFunc(raws, func(r []byte) bool { return bytes.Equal(r, c.Raw) }) {
			raws = append(raws, c.Raw)
		}
	}
	slices.SortFunc(raws, bytes.Compare)
	return mustBuild(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			for _, r := range raws {
				b.AddBytes(r)
			}
		})
	})
}

func addAttribute(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, value cryptobyte.BuilderContinuation) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(cbasn1.SET, value)
	})
}

// encodeAccuracy returns the DER Accuracy for d, nil when d rounds to zero.
func encodeAccuracy(d time.Duration) []byte {
	secs := int64(d / time.Second)
	millis := int64(d % time.Second / time.Millisecond)
	micros := int64(d % time.Millisecond / time.Microsecond)
	if secs == 0 && millis == 0 && micros == 0 {
		return nil
	}
	return mustBuild(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if secs != 0 {
				b.AddASN1Int64(secs)
			}
			if millis != 0 {
				b.AddASN1Int64WithTag(millis, cbasn1.Tag(0).ContextSpecific())
			}
			if micros != 0 {
				b.AddASN1Int64WithTag(micros, cbasn1.Tag(1).ContextSpecific())
			}
		})
	})
}

func build(f cryptobyte.BuilderContinuation) ([]byte, error) {
	var b cryptobyte.Builder
	f(&b)
	return b.Bytes()
}

// mustBuild is for encodings of values that were already checked, such as
// parsed certificates' raw fields; a failure is a bug in this package.
func mustBuild(f cryptobyte.BuilderContinuation) []byte {
	der, err := build(f)
	if err != nil {
		panic("tsp: encode constant: " + err.Error())
	}
	return der
}

// Certificate returns the TSU certificate.
func (a *Authority) Certificate() *x509.Certificate { return a.cert }

// Respond answers a DER TimeStampReq with a DER TimeStampResp: granted with a
// token, or a rejection with a [FailureInfo] and a status string when the
// request is malformed or not acceptable. err is non-nil only for internal
// failures; resp is then a systemFailure rejection that may be sent to the
// client.
func (a *Authority) Respond(ctx context.Context, der []byte) (resp []byte, err error) {
	req, err := ParseRequest(der)
	if err != nil {
		var re *RequestError
		if !errors.As(err, &re) {
			re = reqErr(FailBadDataFormat, "malformed request")
		}
		return rejection(re), nil
	}
	resp, err = a.issue(ctx, req, true)
	if err != nil {
		var re *RequestError
		if errors.As(err, &re) {
			return rejection(re), nil
		}
		return rejection(reqErr(FailSystemFailure, "internal error")), err
	}
	return resp, nil
}

// Token returns a time-stamp token (a DER ContentInfo holding SignedData)
// for digest, made with h, carrying the TSU certificate and chain. It is
// meant for in-process callers such as a signer adding signature
// time-stamps.
func (a *Authority) Token(ctx context.Context, h crypto.Hash, digest []byte) ([]byte, error) {
	oid := oidFromHash(h)
	if oid == nil || len(digest) != h.Size() {
		return nil, fmt.Errorf("time-stamp token: %w", reqErr(FailBadAlg, "unsupported hash or digest length"))
	}
	imprint := mustBuild(func(b *cryptobyte.Builder) { addImprint(b, oid, digest) })
	return a.issue(ctx, &Request{HashAlgorithm: h, HashedMessage: digest, CertReq: true, imprint: imprint}, false)
}

// Timestamp is [Authority.Token] under the name of the signer's
// Timestamper interface, so that an *Authority can be passed as it is.
func (a *Authority) Timestamp(ctx context.Context, h crypto.Hash, digest []byte) ([]byte, error) {
	return a.Token(ctx, h, digest)
}

// TokenSize returns the largest token that [Authority.Token] can return for
// a digest made with h, so that a signer can reserve space for it. It signs
// nothing.
func (a *Authority) TokenSize(ctx context.Context, h crypto.Hash) (int, error) {
	oid := oidFromHash(h)
	if oid == nil {
		return 0, fmt.Errorf("time-stamp token size: %w", reqErr(FailBadAlg, "unsupported hash"))
	}
	maxSerial := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	imprint := mustBuild(func(b *cryptobyte.Builder) { addImprint(b, oid, make([]byte, h.Size())) })
	req := &Request{HashAlgorithm: h, imprint: imprint}
	// A time whose fraction has no trailing zeros at any resolution.
	when := time.Date(2000, 1, 1, 0, 0, 0, 123456789, time.UTC)
	tstInfo, err := a.tstInfo(req, a.policyDER, maxSerial, when)
	if err != nil {
		return 0, err
	}
	signed, err := a.signedAttributes(tstInfo)
	if err != nil {
		return 0, err
	}
	der, err := a.encode(false, true, tstInfo, signed, make([]byte, a.maxSignatureSize()))
	if err != nil {
		return 0, err
	}
	return len(der), nil
}

// maxSignatureSize returns the largest signature value that a.key makes.
func (a *Authority) maxSignatureSize() int {
	switch k := a.key.Public().(type) {
	case *ecdsa.PublicKey:
		n := (k.Curve.Params().BitSize + 7) / 8
		content := 2 * (2 + n + 1) // two INTEGERs, each possibly with a leading zero
		if content < 128 {
			return 2 + content
		}
		return 3 + content
	case *rsa.PublicKey:
		return k.Size()
	}
	return 0
}

// issue signs a token for req and returns it, wrapped in a granted
// TimeStampResp when asResponse is set.
func (a *Authority) issue(ctx context.Context, req *Request, asResponse bool) ([]byte, error) {
	policyDER, err := a.policyFor(req.Policy)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("issue time-stamp: %w", err)
	}
	now := a.clock().UTC()
	if now.Before(a.cert.NotBefore) || now.After(a.cert.NotAfter) {
		return nil, fmt.Errorf("issue time-stamp: %w", ErrCertificateNotValid)
	}
	serial, err := a.serial()
	if err != nil {
		return nil, fmt.Errorf("issue time-stamp: %w", err)
	}
	tstInfo, err := a.tstInfo(req, policyDER, serial, now)
	if err != nil {
		return nil, err
	}
	signed, err := a.signedAttributes(tstInfo)
	if err != nil {
		return nil, err
	}
	h := a.signHash.New()
	h.Write(signed)
	sig, err := a.key.Sign(a.signRand(), h.Sum(nil), a.signHash)
	if err != nil {
		return nil, fmt.Errorf("issue time-stamp: %w: %w", ErrSign, err)
	}
	return a.encode(asResponse, req.CertReq, tstInfo, signed, sig)
}

func (a *Authority) signRand() io.Reader {
	if a.rand != nil {
		return lockedReader{&a.randMu, a.rand}
	}
	return rand.Reader
}

type lockedReader struct {
	mu *sync.Mutex
	r  io.Reader
}

func (l lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

func (a *Authority) policyFor(requested asn1.ObjectIdentifier) ([]byte, error) {
	if requested == nil || requested.Equal(a.policy) {
		return a.policyDER, nil
	}
	for _, p := range a.accepted {
		if requested.Equal(p) {
			return build(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(p) })
		}
	}
	return nil, reqErr(FailUnacceptedPolicy, "policy %s is not accepted", requested)
}

// serial returns a positive 128-bit serial number from the random source.
func (a *Authority) serial() (*big.Int, error) {
	var buf [16]byte
	for range 4 {
		if _, err := io.ReadFull(a.signRand(), buf[:]); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRand, err)
		}
		if n := new(big.Int).SetBytes(buf[:]); n.Sign() > 0 {
			return n, nil
		}
	}
	return nil, fmt.Errorf("%w: zero serial numbers", ErrRand)
}

func (a *Authority) tstInfo(req *Request, policyDER []byte, serial *big.Int, now time.Time) ([]byte, error) {
	b := cryptobyte.NewBuilder(make([]byte, 0, 64+len(policyDER)+len(req.imprint)+len(a.accuracyDER)+len(req.rawNonce)+len(a.tsaNameDER)+len(a.extensionsDER)))
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddBytes(policyDER)
		b.AddBytes(req.imprint)
		b.AddASN1BigInt(serial)
		b.AddASN1(cbasn1.GeneralizedTime, func(b *cryptobyte.Builder) {
			b.AddBytes(appendGeneralizedTime(nil, now, a.resolution))
		})
		b.AddBytes(a.accuracyDER)
		b.AddBytes(req.rawNonce)
		b.AddBytes(a.tsaNameDER)
		b.AddBytes(a.extensionsDER)
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("issue time-stamp: encode TSTInfo: %w", err)
	}
	return der, nil
}

// appendGeneralizedTime appends t, in UTC and truncated to res, as the
// content of a DER GeneralizedTime: YYYYMMDDHHMMSS[.f*]Z with no trailing
// zeros in the fraction.
func appendGeneralizedTime(dst []byte, t time.Time, res time.Duration) []byte {
	t = t.UTC().Truncate(res)
	dst = t.AppendFormat(dst, "20060102150405")
	if ns := t.Nanosecond(); ns != 0 {
		frac := fmt.Appendf(nil, "%09d", ns)
		dst = append(dst, '.')
		dst = append(dst, bytes.TrimRight(frac, "0")...)
	}
	return append(dst, 'Z')
}

// signedAttributes returns the DER SET OF Attribute that is signed: content
// type, message digest of tstInfo and signing certificate v2, sorted.
func (a *Authority) signedAttributes(tstInfo []byte) ([]byte, error) {
	h := a.signHash.New()
	h.Write(tstInfo)
	digest := h.Sum(nil)
	md, err := build(func(b *cryptobyte.Builder) {
		addAttribute(b, oidAttrMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest) })
	})
	if err != nil {
		return nil, fmt.Errorf("issue time-stamp: encode message digest: %w", err)
	}
	attrs := [][]byte{a.attrContentType, md, a.attrSigningCert}
	slices.SortFunc(attrs, bytes.Compare)
	return build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
			for _, at := range attrs {
				b.AddBytes(at)
			}
		})
	})
}

// encode assembles the ContentInfo holding the SignedData, inside a granted
// TimeStampResp when asResponse is set, in one buffer.
func (a *Authority) encode(asResponse, withCerts bool, tstInfo, signedAttrs, sig []byte) ([]byte, error) {
	size := len(tstInfo) + len(signedAttrs) + len(sig) + len(a.sidDER) + 128
	if withCerts {
		size += len(a.certsDER)
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, size))
	if asResponse {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(grantedStatus)
			a.addToken(b, withCerts, tstInfo, signedAttrs, sig)
		})
	} else {
		a.addToken(b, withCerts, tstInfo, signedAttrs, sig)
	}
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("issue time-stamp: encode token: %w", err)
	}
	return der, nil
}

// grantedStatus is the DER PKIStatusInfo of a granted response.
var grantedStatus = []byte{0x30, 0x03, 0x02, 0x01, byte(StatusGranted)}

func (a *Authority) addToken(b *cryptobyte.Builder, withCerts bool, tstInfo, signedAttrs, sig []byte) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(3)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(a.digestAlgDER) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncapsulatedContentInfo
					b.AddASN1ObjectIdentifier(oidTSTInfo)
					b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(tstInfo)
					})
				})
				if withCerts {
					b.AddBytes(a.certsDER)
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					a.addSignerInfo(b, signedAttrs, sig)
				})
			})
		})
	})
}

func (a *Authority) addSignerInfo(b *cryptobyte.Builder, signedAttrs, sig []byte) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddBytes(a.sidDER)
		b.AddBytes(a.digestAlgDER)
		// signedAttrs is a SET; in SignerInfo it is [0] IMPLICIT.
		b.AddUint8(byte(cbasn1.Tag(0).ContextSpecific().Constructed()))
		b.AddBytes(signedAttrs[1:])
		b.AddBytes(a.sigAlgDER)
		b.AddASN1OctetString(sig)
	})
}

// rejection returns a rejection TimeStampResp for e.
func rejection(e *RequestError) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(int64(StatusRejection))
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(e.Reason)) })
			})
			addFailureInfo(b, e.Failure)
		})
	})
	return b.BytesOrPanic()
}

// addFailureInfo adds f as a DER named BIT STRING (no trailing zero bits).
func addFailureInfo(b *cryptobyte.Builder, f FailureInfo) {
	if f == 0 {
		return
	}
	last := 31
	for f&(1<<last) == 0 {
		last--
	}
	data := make([]byte, last/8+1)
	for i := 0; i <= last; i++ {
		if f&(1<<i) != 0 {
			data[i/8] |= 0x80 >> (i % 8)
		}
	}
	b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
		b.AddUint8(byte(7 - last%8))
		b.AddBytes(data)
	})
}
