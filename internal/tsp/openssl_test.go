package tsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
)

// TestOpenSSLRoundTrip makes requests with openssl ts -query, answers them
// through ServeHTTP on 127.0.0.1 and checks the replies with openssl ts
// -reply and openssl ts -verify, and with github.com/digitorus/timestamp.
func TestOpenSSLRoundTrip(t *testing.T) {
	openssl := lookTool(t, "openssl")
	tests := []struct {
		key, hash      string
		nonce, certReq bool
		accuracy       time.Duration
	}{
		{"p256", "sha256", true, true, 1500 * time.Millisecond},
		{"p256", "sha384", true, true, 250 * time.Microsecond},
		{"p256", "sha512", false, true, 20 * time.Millisecond},
		{"p256", "sha256", true, true, 0},
		{"p256", "sha256", false, false, 0},
		{"p256", "sha256", true, false, 0},
		{"p256", "sha256", false, true, 0},
		{"p256", "sha384", true, true, 0},
		{"p256", "sha384", false, false, 0},
		{"p256", "sha512", true, true, 0},
		{"p256", "sha512", false, false, 0},
		{"p384", "sha256", true, true, 0},
		{"p384", "sha512", true, false, 0},
		{"p521", "sha384", true, true, 0},
		{"rsa", "sha256", true, true, 0},
		{"rsa", "sha512", false, false, 0},
	}
	for _, tc := range tests {
		name := tc.key + "/" + tc.hash
		if tc.nonce {
			name += "/nonce"
		}
		if tc.certReq {
			name += "/cert"
		}
		if tc.accuracy != 0 {
			name += "/" + tc.accuracy.String()
		}
		t.Run(name, func(t *testing.T) {
			p := newPKI(t, tc.key)
			srv := httptest.NewServer(newAuthority(t, p, Options{Accuracy: tc.accuracy}))
			defer srv.Close()
			dir := t.TempDir()
			data := filepath.Join(dir, "data.bin")
			if err := os.WriteFile(data, []byte("document for "+name), 0o600); err != nil {
				t.Fatal(err)
			}
			root, untrusted := filepath.Join(dir, "root.pem"), filepath.Join(dir, "untrusted.pem")
			writePEM(t, root, p.root)
			writePEM(t, untrusted, p.tsu, p.inter)
			query, reply := filepath.Join(dir, "q.tsq"), filepath.Join(dir, "r.tsr")
			args := []string{"ts", "-query", "-data", data, "-" + tc.hash, "-out", query}
			if tc.certReq {
				args = append(args, "-cert")
			}
			if !tc.nonce {
				args = append(args, "-no_nonce")
			}
			run(t, openssl, args...)
			q, err := os.ReadFile(query)
			if err != nil {
				t.Fatal(err)
			}
			resp := post(t, srv.URL, q)
			if err := os.WriteFile(reply, resp, 0o600); err != nil {
				t.Fatal(err)
			}
			text := run(t, openssl, "ts", "-reply", "-in", reply, "-text")
			for _, want := range []string{"Status: Granted.", "Policy OID: 1.3.6.1.4.1.99999.1.2.1", "Hash Algorithm: " + tc.hash, "Accuracy: " + opensslAccuracy(tc.accuracy), "TSA: DirName:"} {
				if !strings.Contains(text, want) {
					t.Errorf("openssl ts -reply output lacks %q:\n%s", want, text)
				}
			}
			if strings.Contains(text, "Nonce: unspecified") == tc.nonce {
				t.Errorf("nonce presence = %v, want %v:\n%s", !tc.nonce, tc.nonce, text)
			}
			run(t, openssl, "ts", "-verify", "-data", data, "-in", reply, "-CAfile", root, "-untrusted", untrusted)
			run(t, openssl, "ts", "-verify", "-queryfile", query, "-in", reply, "-CAfile", root, "-untrusted", untrusted)
			crossCheck(t, resp, q, p, tc.certReq, tc.accuracy)
		})
	}
}

// opensslAccuracy is how openssl ts -reply -text prints an accuracy.
func opensslAccuracy(d time.Duration) string {
	if d == 0 {
		d = time.Second
	}
	part := func(v time.Duration, unit string) string {
		if v == 0 {
			return "unspecified " + unit
		}
		h := fmt.Sprintf("%X", int64(v))
		if len(h)%2 == 1 {
			h = "0" + h
		}
		return "0x" + h + " " + unit
	}
	return part(d/time.Second, "seconds") + ", " + part(d%time.Second/time.Millisecond, "millis") + ", " + part(d%time.Millisecond/time.Microsecond, "micros")
}

func post(t *testing.T, url string, body []byte) []byte {
	t.Helper()
	res, err := http.Post(url, ContentTypeQuery, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != ContentTypeReply {
		t.Fatalf("reply: status %d, content type %q: %s", res.StatusCode, res.Header.Get("Content-Type"), out)
	}
	return out
}

// crossCheck parses resp with github.com/digitorus/timestamp (which checks
// the CMS signature when certificates are present) and with ParseResponse.
func crossCheck(t *testing.T, resp, query []byte, p *testPKI, certReq bool, accuracy time.Duration) {
	t.Helper()
	req, err := ParseRequest(query)
	if err != nil {
		t.Fatalf("ParseRequest: %v", err)
	}
	ts, err := timestamp.ParseResponse(resp)
	if err != nil {
		t.Fatalf("digitorus ParseResponse: %v", err)
	}
	if !bytes.Equal(ts.HashedMessage, req.HashedMessage) || ts.HashAlgorithm != req.HashAlgorithm {
		t.Errorf("digitorus imprint = %v %x, want %v %x", ts.HashAlgorithm, ts.HashedMessage, req.HashAlgorithm, req.HashedMessage)
	}
	res := time.Second
	switch {
	case accuracy == 0:
		accuracy = time.Second
	case accuracy < time.Millisecond:
		res = time.Microsecond
	case accuracy < time.Second:
		res = time.Millisecond
	}
	if !ts.Time.Equal(testNow.Truncate(res)) || !ts.Policy.Equal(testPolicy) || ts.Accuracy != accuracy {
		t.Errorf("digitorus time %v policy %v accuracy %v", ts.Time, ts.Policy, ts.Accuracy)
	}
	if (req.Nonce == nil) != (ts.Nonce == nil) || req.Nonce != nil && req.Nonce.Cmp(ts.Nonce) != 0 {
		t.Errorf("digitorus nonce = %v, want %v", ts.Nonce, req.Nonce)
	}
	wantCerts := 0
	if certReq {
		wantCerts = 2
	}
	if len(ts.Certificates) != wantCerts {
		t.Errorf("digitorus: %d certificates, want %d", len(ts.Certificates), wantCerts)
	}
	ours, err := ParseResponse(resp)
	if err != nil {
		t.Fatalf("ParseResponse: %v", err)
	}
	if ours.Status != StatusGranted || ours.Info.SerialNumber.Cmp(ts.SerialNumber) != 0 || !ours.Info.GenTime.Equal(ts.Time) {
		t.Errorf("ParseResponse = %+v, digitorus serial %v", ours, ts.SerialNumber)
	}
	if ours.Info.SerialNumber.Sign() <= 0 || ours.Info.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v is not a positive 128-bit number", ours.Info.SerialNumber)
	}
	checkESS(t, ours.Token, p.tsu)
}

// checkESS checks the token's signing-certificate-v2 attribute by finding
// the SHA-256 hash of the TSU certificate in it.
func checkESS(t *testing.T, token []byte, tsu *x509.Certificate) {
	t.Helper()
	h := sha256.Sum256(tsu.Raw)
	ess := append([]byte{0x04, 0x20}, h[:]...)
	if !bytes.Contains(token, ess) {
		t.Errorf("token lacks ESSCertIDv2 hash of the TSU certificate")
	}
}

// TestOpenSSLToken checks a token from Authority.Token, as a signer embeds
// it, with openssl ts -verify -token_in.
func TestOpenSSLToken(t *testing.T) {
	openssl := lookTool(t, "openssl")
	for _, kind := range []string{"p256", "p384", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			p := newPKI(t, kind)
			a := newAuthority(t, p, Options{})
			digest := sha256.Sum256([]byte("signature value of " + kind))
			token, err := a.Token(context.Background(), crypto.SHA256, digest[:])
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			tok, root := filepath.Join(dir, "token.der"), filepath.Join(dir, "root.pem")
			if err := os.WriteFile(tok, token, 0o600); err != nil {
				t.Fatal(err)
			}
			writePEM(t, root, p.root)
			run(t, openssl, "ts", "-verify", "-digest", hex.EncodeToString(digest[:]), "-token_in", "-in", tok, "-CAfile", root)
		})
	}
}

// TestDigitorusClient answers requests made by github.com/digitorus/timestamp
// (the client of github.com/digitorus/pdfsign) and parses the replies back
// with it, which verifies the CMS signature.
func TestDigitorusClient(t *testing.T) {
	p := newPKI(t, "p256")
	a := newAuthority(t, p, Options{})
	tests := []struct {
		name string
		opts timestamp.RequestOptions
	}{
		{"sha256", timestamp.RequestOptions{Hash: crypto.SHA256}},
		{"sha384 certs", timestamp.RequestOptions{Hash: crypto.SHA384, Certificates: true}},
		{"sha512 nonce certs policy", timestamp.RequestOptions{Hash: crypto.SHA512, Certificates: true, Nonce: big.NewInt(424242), TSAPolicyOID: testPolicy}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := timestamp.CreateRequest(strings.NewReader("pdf bytes"), &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := a.Respond(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			crossCheck(t, resp, q, p, tc.opts.Certificates, 0)
		})
	}
}

// TestOpenSSLRejection checks that openssl reads our rejections: status
// and failure info.
func TestOpenSSLRejection(t *testing.T) {
	openssl := lookTool(t, "openssl")
	a := newAuthority(t, newPKI(t, "p256"), Options{})
	tests := []struct {
		name, query, want string
	}{
		{"sha1", "sha1.tsq", "Failure info: unrecognized or unsupported algorithm identifier"},
		{"policy", "sha256-policy.tsq", "Failure info: the requested TSA policy is not supported by the TSA"},
		{"garbage", "", "Failure info: the data submitted has the wrong format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := []byte("garbage")
			if tc.query != "" {
				q = readTestdata(t, tc.query)
			}
			resp, err := a.Respond(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			reply := filepath.Join(t.TempDir(), "r.tsr")
			if err := os.WriteFile(reply, resp, 0o600); err != nil {
				t.Fatal(err)
			}
			text := run(t, openssl, "ts", "-reply", "-in", reply, "-text")
			if !strings.Contains(text, "Status: Rejected.") || !strings.Contains(text, tc.want) {
				t.Errorf("openssl ts -reply output lacks %q:\n%s", tc.want, text)
			}
		})
	}
}

// TestQualified checks the ETSI EN 319 422 qcStatements extension with
// openssl, digitorus/timestamp and ParseResponse.
func TestQualified(t *testing.T) {
	openssl := lookTool(t, "openssl")
	p := newPKI(t, "p256")
	for _, qualified := range []bool{false, true} {
		t.Run(fmt.Sprint("qualified=", qualified), func(t *testing.T) {
			a := newAuthority(t, p, Options{Qualified: qualified})
			q := readTestdata(t, "sha256-nonce-cert.tsq")
			resp, err := a.Respond(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			reply, root, data := filepath.Join(dir, "r.tsr"), filepath.Join(dir, "root.pem"), filepath.Join("testdata", "data.txt")
			if err := os.WriteFile(reply, resp, 0o600); err != nil {
				t.Fatal(err)
			}
			writePEM(t, root, p.root)
			run(t, openssl, "ts", "-verify", "-data", data, "-in", reply, "-CAfile", root)
			text := run(t, openssl, "ts", "-reply", "-in", reply, "-text")
			if strings.Contains(text, "qcStatements") != qualified {
				t.Errorf("openssl shows qcStatements: %v, want %v:\n%s", !qualified, qualified, text)
			}
			ts, err := timestamp.ParseResponse(resp)
			if err != nil || ts.Qualified != qualified {
				t.Errorf("digitorus Qualified = %v (%v), want %v", ts != nil && ts.Qualified, err, qualified)
			}
			ours, err := ParseResponse(resp)
			if err != nil || ours.Info.Qualified != qualified {
				t.Errorf("ParseResponse Qualified wrong: %v", err)
			}
		})
	}
}
