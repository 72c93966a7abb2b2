package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

func ocspRequest(t testing.TB, cert, issuer *x509.Certificate, h crypto.Hash, nonce []byte) []byte {
	t.Helper()
	der, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	if nonce == nil {
		return der
	}
	// Re-encode with a requestExtensions nonce (x/crypto cannot add one).
	var req struct {
		TBS struct {
			List []asn1.RawValue
			Ext  []pkix.Extension `asn1:"explicit,tag:2,optional"`
		}
	}
	if _, err := asn1.Unmarshal(der, &req); err != nil {
		t.Fatal(err)
	}
	v, _ := asn1.Marshal(nonce)
	req.TBS.Ext = []pkix.Extension{{Id: oidOCSPNonce, Value: v}}
	out, err := asn1.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// responseNonce returns the nonce of a response's responseExtensions.
func responseNonce(t *testing.T, der []byte) []byte {
	t.Helper()
	var resp struct {
		Status asn1.Enumerated
		Bytes  struct {
			Type asn1.ObjectIdentifier
			Resp []byte
		} `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &resp); err != nil {
		t.Fatal(err)
	}
	var basic struct {
		TBS struct {
			Raw        asn1.RawContent
			ID         asn1.RawValue
			ProducedAt time.Time `asn1:"generalized"`
			Responses  asn1.RawValue
			Ext        []pkix.Extension `asn1:"explicit,tag:1,optional"`
		}
	}
	if _, err := asn1.Unmarshal(resp.Bytes.Resp, &basic); err != nil {
		t.Fatal(err)
	}
	for _, e := range basic.TBS.Ext {
		if e.Id.Equal(oidOCSPNonce) {
			var n []byte
			asn1.Unmarshal(e.Value, &n)
			return n
		}
	}
	return nil
}

func TestOCSPResponder(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	issuer, _ := env.svc.AuthorityCertificate(CitizenCA)
	responder, _ := env.svc.AuthorityCertificate(OCSPPrefix + CitizenCA)
	good := env.issue(t, CitizenSigning)
	held := env.issue(t, CitizenAuth)
	seal := env.issue(t, ESeal)
	env.svc.Revoke(ctx, held.SerialNumber, ReasonCertificateHold)

	ask := func(t *testing.T, cert *x509.Certificate, h crypto.Hash, nonce []byte) *ocsp.Response {
		t.Helper()
		der, err := env.svc.OCSP().Respond(ctx, ocspRequest(t, cert, issuer, h, nonce))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ocsp.ParseResponseForCert(der, cert, issuer)
		if err != nil {
			t.Fatalf("parse response: %v", err)
		}
		if resp.Certificate == nil || !resp.Certificate.Equal(responder) {
			t.Fatal("response not signed by the delegated responder")
		}
		if got := responseNonce(t, der); !bytes.Equal(got, nonce) {
			t.Fatalf("nonce echoed %x, want %x", got, nonce)
		}
		return resp
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		t.Run(h.String(), func(t *testing.T) {
			r := ask(t, good, h, nil)
			if r.Status != ocsp.Good || !r.ThisUpdate.Equal(testNow) || !r.NextUpdate.Equal(testNow.Add(4*time.Hour)) {
				t.Errorf("good: status %d, %v to %v", r.Status, r.ThisUpdate, r.NextUpdate)
			}
			r = ask(t, held, h, []byte("0123456789abcdef"))
			if r.Status != ocsp.Revoked || r.RevocationReason != ocsp.CertificateHold || !r.RevokedAt.Equal(testNow) {
				t.Errorf("held: status %d reason %d at %v", r.Status, r.RevocationReason, r.RevokedAt)
			}
		})
	}
	t.Run("UnknownSerial", func(t *testing.T) {
		fake := *good
		fake.SerialNumber = big.NewInt(987654321)
		if r := ask(t, &fake, crypto.SHA1, nil); r.Status != ocsp.Unknown {
			t.Errorf("status %d, want unknown", r.Status)
		}
		// An e-seal is ours, but not the citizen CA's.
		fake.SerialNumber = seal.SerialNumber
		if r := ask(t, &fake, crypto.SHA1, nil); r.Status != ocsp.Unknown {
			t.Errorf("other CA's serial: status %d, want unknown", r.Status)
		}
	})
	t.Run("RevocationVisibleAtOnce", func(t *testing.T) {
		c := env.issue(t, CitizenSigning)
		if r := ask(t, c, crypto.SHA1, nil); r.Status != ocsp.Good { // now cached
			t.Fatalf("status %d, want good", r.Status)
		}
		if _, err := env.svc.Revoke(ctx, c.SerialNumber, ReasonKeyCompromise); err != nil {
			t.Fatal(err)
		}
		if r := ask(t, c, crypto.SHA1, nil); r.Status != ocsp.Revoked || r.RevocationReason != ocsp.KeyCompromise {
			t.Fatalf("after revoke: status %d reason %d, want revoked keyCompromise", r.Status, r.RevocationReason)
		}
	})
	t.Run("CacheRefreshedAfterHalfValidity", func(t *testing.T) {
		r1 := ask(t, good, crypto.SHA256, nil)
		*env.now = testNow.Add(3 * time.Hour)
		defer func() { *env.now = testNow }()
		r2 := ask(t, good, crypto.SHA256, nil)
		if !r2.ThisUpdate.After(r1.ThisUpdate) {
			t.Errorf("response not re-signed after 3 hours of 4: thisUpdate %v", r2.ThisUpdate)
		}
	})
	t.Run("BadRequests", func(t *testing.T) {
		otherIssuer, _ := env.svc.AuthorityCertificate(Root)
		notOurs := ocspRequest(t, good, otherIssuer, crypto.SHA1, nil)
		for name, tc := range map[string]struct {
			in   []byte
			want []byte
		}{
			"garbage":      {[]byte("hello"), ocsp.MalformedRequestErrorResponse},
			"empty":        {nil, ocsp.MalformedRequestErrorResponse},
			"truncated":    {ocspRequest(t, good, issuer, crypto.SHA1, nil)[:20], ocsp.MalformedRequestErrorResponse},
			"other issuer": {notOurs, ocsp.UnauthorizedErrorResponse},
		} {
			got, err := env.svc.OCSP().Respond(ctx, tc.in)
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("%s: response %x, %v; want %x", name, got, err, tc.want)
			}
		}
	})
	t.Run("HTTP", func(t *testing.T) {
		srv := httptest.NewServer(env.svc.Handler())
		defer srv.Close()
		req := ocspRequest(t, good, issuer, crypto.SHA1, nil)
		post, err := http.Post(srv.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(post.Body)
		post.Body.Close()
		if post.Header.Get("Content-Type") != "application/ocsp-response" {
			t.Fatalf("POST content type %q", post.Header.Get("Content-Type"))
		}
		if r, err := ocsp.ParseResponseForCert(body, good, issuer); err != nil || r.Status != ocsp.Good {
			t.Fatalf("POST: %v", err)
		}
		get, err := http.Get(srv.URL + "/ocsp/" + strings.ReplaceAll(base64.StdEncoding.EncodeToString(req), "+", "%2B"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(get.Body)
		get.Body.Close()
		if r, err := ocsp.ParseResponseForCert(body, good, issuer); err != nil || r.Status != ocsp.Good {
			t.Fatalf("GET: %v", err)
		}
		for name, tc := range map[string]struct {
			method, ctype string
			body          []byte
			want          int
		}{
			"wrong method": {"PUT", "application/ocsp-request", req, 405},
			"wrong type":   {"POST", "text/plain", req, 415},
			"too large":    {"POST", "application/ocsp-request", make([]byte, 1<<20), 413},
		} {
			r, _ := http.NewRequest(tc.method, srv.URL+"/ocsp", bytes.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: %d %s, want %d problem", name, resp.StatusCode, resp.Header.Get("Content-Type"), tc.want)
			}
		}
	})
}
