package tsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// tlv encodes a DER element with the given tag byte and contents.
func tlv(tag byte, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	out := []byte{tag}
	switch n := len(body); {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	return append(out, body...)
}

func intDER(v int64) []byte { return mustMarshal(v) }

func TestParseRequest(t *testing.T) {
	data := readTestdata(t, "data.txt")
	d256 := sha256.Sum256(data)
	d384 := sha512.Sum384(data)
	d512 := sha512.Sum512(data)
	ones := bytes.Repeat([]byte{0x11}, 32)
	oid256 := tlv(0x06, mustHex("608648016503040201"))
	null := []byte{0x05, 0x00}
	algSHA256 := tlv(0x30, oid256, null)
	imprint256 := tlv(0x30, algSHA256, tlv(0x04, ones))
	tests := []struct {
		name     string
		der      []byte
		hash     crypto.Hash
		digest   []byte
		nonce    bool
		certReq  bool
		policy   asn1.ObjectIdentifier
		wantFail FailureInfo
	}{
		{name: "openssl sha256 nonce cert", der: readTestdata(t, "sha256-nonce-cert.tsq"), hash: crypto.SHA256, digest: d256[:], nonce: true, certReq: true},
		{name: "openssl sha384", der: readTestdata(t, "sha384-nononce.tsq"), hash: crypto.SHA384, digest: d384[:]},
		{name: "openssl sha512 nonce cert", der: readTestdata(t, "sha512-nonce-cert.tsq"), hash: crypto.SHA512, digest: d512[:], nonce: true, certReq: true},
		{name: "openssl policy", der: readTestdata(t, "sha256-policy.tsq"), hash: crypto.SHA256, digest: d256[:], nonce: true, policy: asn1.ObjectIdentifier{1, 2, 3, 4, 5}},
		{name: "openssl sha1", der: readTestdata(t, "sha1.tsq"), wantFail: FailBadAlg},
		{name: "openssl md5", der: readTestdata(t, "md5.tsq"), wantFail: FailBadAlg},
		{name: "empty", der: nil, wantFail: FailBadDataFormat},
		{name: "garbage", der: []byte("hello"), wantFail: FailBadDataFormat},
		{name: "trailing byte", der: append(readTestdata(t, "sha384-nononce.tsq"), 0), wantFail: FailBadDataFormat},
		{name: "truncated", der: readTestdata(t, "sha384-nononce.tsq")[:40], wantFail: FailBadDataFormat},
		{name: "too large", der: make([]byte, MaxRequestSize+1), wantFail: FailBadDataFormat},
		{name: "version 2", der: tlv(0x30, intDER(2), imprint256), wantFail: FailBadRequest},
		{name: "version 0", der: tlv(0x30, intDER(0), imprint256), wantFail: FailBadRequest},
		{name: "short digest", der: tlv(0x30, intDER(1), tlv(0x30, algSHA256, tlv(0x04, ones[:20]))), wantFail: FailBadDataFormat},
		{name: "absent params", der: tlv(0x30, intDER(1), tlv(0x30, tlv(0x30, oid256), tlv(0x04, ones))), hash: crypto.SHA256, digest: ones},
		{name: "odd params", der: tlv(0x30, intDER(1), tlv(0x30, tlv(0x30, oid256, intDER(0)), tlv(0x04, ones))), wantFail: FailBadAlg},
		{name: "unknown alg", der: tlv(0x30, intDER(1), tlv(0x30, tlv(0x30, tlv(0x06, []byte{0x2a, 0x03}), null), tlv(0x04, ones))), wantFail: FailBadAlg},
		{name: "explicit certReq false", der: tlv(0x30, intDER(1), imprint256, []byte{0x01, 0x01, 0x00}), wantFail: FailBadDataFormat},
		{name: "BER boolean", der: tlv(0x30, intDER(1), imprint256, []byte{0x01, 0x01, 0x01}), wantFail: FailBadDataFormat},
		{name: "non-minimal nonce", der: tlv(0x30, intDER(1), imprint256, []byte{0x02, 0x02, 0x00, 0x01}), wantFail: FailBadDataFormat},
		{name: "negative nonce", der: tlv(0x30, intDER(1), imprint256, []byte{0x02, 0x01, 0xff}), hash: crypto.SHA256, digest: ones, nonce: true},
		{name: "huge nonce", der: tlv(0x30, intDER(1), imprint256, tlv(0x02, bytes.Repeat([]byte{0x7f}, MaxNonceSize+1))), wantFail: FailBadDataFormat},
		{name: "extensions", der: tlv(0x30, intDER(1), imprint256, tlv(0xa0, tlv(0x30))), wantFail: FailUnacceptedExtension},
		{name: "non-minimal length", der: append([]byte{0x30, 0x81, byte(len(intDER(1)) + len(imprint256))}, append(intDER(1), imprint256...)...), wantFail: FailBadDataFormat},
		{name: "indefinite length", der: append(append([]byte{0x30, 0x80}, append(intDER(1), imprint256...)...), 0, 0), wantFail: FailBadDataFormat},
		{name: "out of order", der: tlv(0x30, intDER(1), imprint256, []byte{0x01, 0x01, 0xff}, intDER(5)), wantFail: FailBadDataFormat},
		{name: "policy after nonce", der: tlv(0x30, intDER(1), imprint256, intDER(5), tlv(0x06, []byte{0x2a, 0x03})), wantFail: FailBadDataFormat},
		{name: "not a sequence", der: tlv(0x31, intDER(1), imprint256), wantFail: FailBadDataFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ParseRequest(tc.der)
			if tc.wantFail != 0 {
				var re *RequestError
				if !errors.As(err, &re) || re.Failure != tc.wantFail {
					t.Fatalf("ParseRequest error = %v, want failure %v", err, tc.wantFail)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if req.HashAlgorithm != tc.hash || !bytes.Equal(req.HashedMessage, tc.digest) {
				t.Errorf("imprint = %v %x, want %v %x", req.HashAlgorithm, req.HashedMessage, tc.hash, tc.digest)
			}
			if (req.Nonce != nil) != tc.nonce || req.CertReq != tc.certReq || !req.Policy.Equal(tc.policy) {
				t.Errorf("nonce %v certReq %v policy %v, want nonce %v certReq %v policy %v",
					req.Nonce, req.CertReq, req.Policy, tc.nonce, tc.certReq, tc.policy)
			}
		})
	}
}

func TestNewRequestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		hash crypto.Hash
		opts RequestOptions
	}{
		{"sha256 plain", crypto.SHA256, RequestOptions{}},
		{"sha384 nonce", crypto.SHA384, RequestOptions{Nonce: big.NewInt(1234567)}},
		{"sha512 all", crypto.SHA512, RequestOptions{Nonce: new(big.Int).Lsh(big.NewInt(1), 159), CertReq: true, Policy: testPolicy}},
		{"negative nonce", crypto.SHA256, RequestOptions{Nonce: big.NewInt(-129)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			digest := bytes.Repeat([]byte{0xab}, tc.hash.Size())
			der, err := NewRequest(tc.hash, digest, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			req, err := ParseRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			if req.HashAlgorithm != tc.hash || !bytes.Equal(req.HashedMessage, digest) ||
				req.CertReq != tc.opts.CertReq || !req.Policy.Equal(tc.opts.Policy) ||
				(tc.opts.Nonce == nil) != (req.Nonce == nil) || tc.opts.Nonce != nil && tc.opts.Nonce.Cmp(req.Nonce) != 0 {
				t.Errorf("round trip = %+v, want %v %+v", req, tc.hash, tc.opts)
			}
		})
	}
	if _, err := NewRequest(crypto.SHA1, make([]byte, 20), RequestOptions{}); err == nil {
		t.Error("NewRequest accepted SHA-1")
	}
	if _, err := NewRequest(crypto.SHA256, make([]byte, 20), RequestOptions{}); err == nil {
		t.Error("NewRequest accepted a short digest")
	}
}

func TestRespond(t *testing.T) {
	p := newPKI(t, "p256")
	other := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 2, 2}
	a := newAuthority(t, p, Options{AcceptPolicies: []asn1.ObjectIdentifier{other}, Accuracy: 20 * time.Millisecond})
	digest := sha256.Sum256([]byte("x"))
	req := func(opts RequestOptions) []byte {
		der, err := NewRequest(crypto.SHA256, digest[:], opts)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sha1Digest := sha1.Sum([]byte("x"))
	tests := []struct {
		name       string
		der        []byte
		wantFail   FailureInfo
		wantPolicy asn1.ObjectIdentifier
		wantCerts  bool
	}{
		{name: "plain", der: req(RequestOptions{}), wantPolicy: testPolicy},
		{name: "policy", der: req(RequestOptions{Policy: testPolicy}), wantPolicy: testPolicy},
		{name: "accepted policy", der: req(RequestOptions{Policy: other, CertReq: true}), wantPolicy: other, wantCerts: true},
		{name: "unaccepted policy", der: req(RequestOptions{Policy: asn1.ObjectIdentifier{1, 2, 3}}), wantFail: FailUnacceptedPolicy},
		{name: "sha1", der: tlv(0x30, intDER(1), tlv(0x30, tlv(0x30, tlv(0x06, mustHex("2b0e03021a")), []byte{5, 0}), tlv(0x04, sha1Digest[:]))), wantFail: FailBadAlg},
		{name: "garbage", der: []byte{0x30, 0x03, 0x02, 0x01}, wantFail: FailBadDataFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			der, err := a.Respond(context.Background(), tc.der)
			if err != nil {
				t.Fatalf("Respond: %v", err)
			}
			resp, err := ParseResponse(der)
			if err != nil {
				t.Fatalf("ParseResponse: %v", err)
			}
			if tc.wantFail != 0 {
				if resp.Status != StatusRejection || resp.Failure != tc.wantFail || len(resp.StatusString) != 1 || resp.Token != nil {
					t.Errorf("response = %+v, want rejection %v", resp, tc.wantFail)
				}
				return
			}
			if resp.Status != StatusGranted || resp.Info == nil {
				t.Fatalf("response = %+v, want granted", resp)
			}
			if !resp.Info.Policy.Equal(tc.wantPolicy) {
				t.Errorf("policy = %v, want %v", resp.Info.Policy, tc.wantPolicy)
			}
			if want := testNow.Truncate(time.Millisecond); !resp.Info.GenTime.Equal(want) || resp.Info.Accuracy != 20*time.Millisecond {
				t.Errorf("genTime %v accuracy %v, want %v 20ms", resp.Info.GenTime, resp.Info.Accuracy, want)
			}
			if hasCert := bytes.Contains(resp.Token, p.tsu.Raw); hasCert != tc.wantCerts {
				t.Errorf("token holds TSU certificate: %v, want %v", hasCert, tc.wantCerts)
			}
		})
	}
}

func TestGeneralizedTime(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		t    time.Time
		res  time.Duration
		want string
	}{
		{base, time.Second, "20260102030405Z"},
		{base.Add(999 * time.Millisecond), time.Second, "20260102030405Z"},
		{base.Add(120 * time.Millisecond), time.Millisecond, "20260102030405.12Z"},
		{base.Add(123456789), time.Microsecond, "20260102030405.123456Z"},
		{base.Add(100 * time.Microsecond), time.Millisecond, "20260102030405.1Z"[:14] + "Z"},
		{base.In(time.FixedZone("AST", 3*3600)), time.Second, "20260102030405Z"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			got := string(appendGeneralizedTime(nil, tc.t, tc.res))
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			back, err := parseGeneralizedTime(got)
			if err != nil || !back.Equal(tc.t.Truncate(tc.res)) {
				t.Errorf("parse back = %v, %v", back, err)
			}
		})
	}
}

func TestSerialsUnique(t *testing.T) {
	a := newAuthority(t, newPKI(t, "p256"), Options{})
	seen := map[string]bool{}
	for range 200 {
		s, err := a.serial()
		if err != nil {
			t.Fatal(err)
		}
		if s.Sign() <= 0 || s.BitLen() > 128 || seen[s.String()] {
			t.Fatalf("bad or repeated serial %v", s)
		}
		seen[s.String()] = true
	}
}

type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("token removed")
}

func TestInternalFailures(t *testing.T) {
	p := newPKI(t, "p256")
	req, err := NewRequest(crypto.SHA256, make([]byte, 32), RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  crypto.Signer
		opts Options
		ctx  func() context.Context
		want error
	}{
		{name: "failing key", key: failingSigner{p.key}, want: ErrSign},
		{name: "failing rand", opts: Options{Rand: bytes.NewReader(nil)}, want: ErrRand},
		{name: "zero rand", opts: Options{Rand: bytes.NewReader(make([]byte, 1024))}, want: ErrRand},
		{name: "expired certificate", opts: Options{Clock: func() time.Time { return testNow.AddDate(20, 0, 0) }}, want: ErrCertificateNotValid},
		{name: "canceled", ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, want: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if key == nil {
				key = p.key
			}
			tc.opts.Policy = testPolicy
			if tc.opts.Clock == nil {
				tc.opts.Clock = fixedClock
			}
			a, err := New(key, p.tsu, nil, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			der, err := a.Respond(ctx, req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Respond error = %v, want %v", err, tc.want)
			}
			resp, perr := ParseResponse(der)
			if perr != nil || resp.Status != StatusRejection || resp.Failure != FailSystemFailure {
				t.Errorf("response = %+v, %v; want systemFailure", resp, perr)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	p := newPKI(t, "p256")
	other := newPKI(t, "p384")
	_, edKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	edCert := issue(t, tsuTemplate(8), caInter, edKey.Public(), caKey)
	mk := func(mod func(*x509.Certificate)) *x509.Certificate {
		tmpl := tsuTemplate(7)
		mod(tmpl)
		return issue(t, tmpl, caInter, p.key.Public(), caKey)
	}
	tests := []struct {
		name  string
		key   crypto.Signer
		cert  *x509.Certificate
		chain []*x509.Certificate
		opts  Options
		want  error
	}{
		{name: "ok", key: p.key, cert: p.tsu, opts: Options{Policy: testPolicy}},
		{name: "no policy", key: p.key, cert: p.tsu, want: ErrOptions},
		{name: "bad accepted policy", key: p.key, cert: p.tsu, opts: Options{Policy: testPolicy, AcceptPolicies: []asn1.ObjectIdentifier{{1}}}, want: ErrOptions},
		{name: "negative accuracy", key: p.key, cert: p.tsu, opts: Options{Policy: testPolicy, Accuracy: -1}, want: ErrOptions},
		{name: "nil cert", key: p.key, opts: Options{Policy: testPolicy}, want: ErrCertificate},
		{name: "unparsed cert", key: p.key, cert: &x509.Certificate{PublicKey: p.key.Public(), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}, opts: Options{Policy: testPolicy}, want: ErrCertificate},
		{name: "bad policy OID", key: p.key, cert: p.tsu, opts: Options{Policy: asn1.ObjectIdentifier{7, 1}}, want: ErrOptions},
		{name: "nil and unparsed chain entries ignored", key: p.key, cert: p.tsu, chain: []*x509.Certificate{nil, {}, p.inter, p.inter}, opts: Options{Policy: testPolicy}},
		{name: "ed25519", key: edKey, cert: edCert, opts: Options{Policy: testPolicy}, want: ErrKey},
		{name: "wrong key", key: other.key, cert: p.tsu, opts: Options{Policy: testPolicy}, want: ErrCertificate},
		{name: "ca certificate", key: caKey, cert: caInter, opts: Options{Policy: testPolicy}, want: ErrCertificate},
		{name: "eku not critical", key: p.key, cert: mk(func(c *x509.Certificate) {
			c.ExtraExtensions = nil
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
		}), opts: Options{Policy: testPolicy}, want: ErrCertificate},
		{name: "eku extra", key: p.key, cert: mk(func(c *x509.Certificate) {
			c.ExtraExtensions[0].Value = mustMarshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}, {1, 3, 6, 1, 5, 5, 7, 3, 4}})
		}), opts: Options{Policy: testPolicy}, want: ErrCertificate},
		{name: "key usage without signature", key: p.key, cert: mk(func(c *x509.Certificate) {
			c.KeyUsage = x509.KeyUsageKeyEncipherment
		}), opts: Options{Policy: testPolicy}, want: ErrCertificate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.key, tc.cert, tc.chain, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("New error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestServeHTTP(t *testing.T) {
	a := newAuthority(t, newPKI(t, "p256"), Options{MaxRequestBytes: 200})
	good := readTestdata(t, "sha256-nonce-cert.tsq")
	tests := []struct {
		name        string
		method      string
		ctype       string
		body        []byte
		wantStatus  int
		wantType    string
		wantGranted bool
	}{
		{"granted", http.MethodPost, ContentTypeQuery, good, http.StatusOK, ContentTypeReply, true},
		{"content type with parameter", http.MethodPost, ContentTypeQuery + "; charset=binary", good, http.StatusOK, ContentTypeReply, true},
		{"rejected", http.MethodPost, ContentTypeQuery, readTestdata(t, "sha1.tsq"), http.StatusOK, ContentTypeReply, false},
		{"garbage", http.MethodPost, ContentTypeQuery, []byte("not a request"), http.StatusOK, ContentTypeReply, false},
		{"get", http.MethodGet, "", nil, http.StatusMethodNotAllowed, contentTypeProblem, false},
		{"put", http.MethodPut, ContentTypeQuery, good, http.StatusMethodNotAllowed, contentTypeProblem, false},
		{"wrong type", http.MethodPost, "application/octet-stream", good, http.StatusUnsupportedMediaType, contentTypeProblem, false},
		{"no type", http.MethodPost, "", good, http.StatusUnsupportedMediaType, contentTypeProblem, false},
		{"too large", http.MethodPost, ContentTypeQuery, make([]byte, 201), http.StatusRequestEntityTooLarge, contentTypeProblem, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/tsa", bytes.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			a.ServeHTTP(w, r)
			if w.Code != tc.wantStatus || w.Header().Get("Content-Type") != tc.wantType {
				t.Fatalf("status %d type %q, want %d %q: %s", w.Code, w.Header().Get("Content-Type"), tc.wantStatus, tc.wantType, w.Body)
			}
			if tc.wantType == contentTypeProblem {
				if !strings.Contains(w.Body.String(), `"status":`) {
					t.Errorf("problem body = %s", w.Body)
				}
				return
			}
			resp, err := ParseResponse(w.Body.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if (resp.Status == StatusGranted) != tc.wantGranted {
				t.Errorf("status = %v, want granted %v", resp.Status, tc.wantGranted)
			}
		})
	}
	t.Run("chunked too large", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/tsa", io.MultiReader(bytes.NewReader(make([]byte, 300))))
		r.ContentLength = -1
		r.Header.Set("Content-Type", ContentTypeQuery)
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", w.Code)
		}
	})
}

func TestToken(t *testing.T) {
	a := newAuthority(t, newPKI(t, "p384"), Options{})
	digest := sha512.Sum384([]byte("signature value"))
	token, err := a.Token(context.Background(), crypto.SHA384, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	info, err := ParseToken(token)
	if err != nil {
		t.Fatal(err)
	}
	if info.HashAlgorithm != crypto.SHA384 || !bytes.Equal(info.HashedMessage, digest[:]) || info.Nonce != nil {
		t.Errorf("token info = %+v", info)
	}
	if _, err := a.Token(context.Background(), crypto.SHA1, make([]byte, 20)); err == nil {
		t.Error("Token accepted SHA-1")
	}
}

// TestConcurrent issues tokens from many goroutines with a Rand that is not
// safe for concurrent use; run with -race. Serial numbers must not repeat.
func TestConcurrent(t *testing.T) {
	a := newAuthority(t, newPKI(t, "p256"), Options{Rand: mrand.NewChaCha8([32]byte{1, 2, 3})})
	req := readTestdata(t, "sha256-nonce-cert.tsq")
	const workers, each = 8, 25
	serials := make(chan string, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				der, err := a.Respond(context.Background(), req)
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := ParseResponse(der)
				if err != nil || resp.Status != StatusGranted {
					t.Errorf("response %+v, %v", resp, err)
					return
				}
				serials <- resp.Info.SerialNumber.String()
			}
		})
	}
	wg.Wait()
	close(serials)
	seen := map[string]bool{}
	for s := range serials {
		if seen[s] {
			t.Fatalf("serial %s repeated", s)
		}
		seen[s] = true
	}
	if len(seen) != workers*each {
		t.Errorf("%d serials, want %d", len(seen), workers*each)
	}
}

func TestServeHTTPInternalFailure(t *testing.T) {
	p := newPKI(t, "p256")
	var got error
	a, err := New(failingSigner{p.key}, p.tsu, nil, Options{Policy: testPolicy, Clock: fixedClock, OnError: func(err error) { got = err }})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/tsa", bytes.NewReader(readTestdata(t, "sha256-nonce-cert.tsq")))
	r.Header.Set("Content-Type", ContentTypeQuery)
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	if w.Code != http.StatusInternalServerError || w.Header().Get("Content-Type") != contentTypeProblem {
		t.Errorf("status %d type %q, want 500 problem", w.Code, w.Header().Get("Content-Type"))
	}
	if !errors.Is(got, ErrSign) {
		t.Errorf("OnError got %v, want ErrSign", got)
	}
}

func TestTokenSize(t *testing.T) {
	for _, kind := range []string{"p256", "p384", "p521", "rsa"} {
		for _, acc := range []time.Duration{0, 10 * time.Millisecond, 10 * time.Microsecond} {
			t.Run(fmt.Sprint(kind, "/", acc), func(t *testing.T) {
				a := newAuthority(t, newPKI(t, kind), Options{Accuracy: acc, Clock: func() time.Time {
					return testNow.Add(time.Duration(mrand.Int64N(int64(time.Second))))
				}})
				for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA512} {
					size, err := a.TokenSize(context.Background(), h)
					if err != nil {
						t.Fatal(err)
					}
					largest := 0
					for range 50 {
						tok, err := a.Timestamp(context.Background(), h, make([]byte, h.Size()))
						if err != nil {
							t.Fatal(err)
						}
						largest = max(largest, len(tok))
					}
					if largest > size || size-largest > 8 {
						t.Errorf("%v: TokenSize %d, largest of 50 tokens %d", h, size, largest)
					}
				}
			})
		}
	}
	a := newAuthority(t, newPKI(t, "p256"), Options{})
	if _, err := a.TokenSize(context.Background(), crypto.SHA1); err == nil {
		t.Error("TokenSize accepted SHA-1")
	}
}

const contentTypeProblem = "application/problem+json"
