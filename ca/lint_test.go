package ca

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"io"
	"math/big"
	"testing"

	"github.com/thiqa/thiqa/store"
	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	zl "github.com/zmap/zlint/v3/lint"
)

const mozillaSigLint = "e_mp_ecdsa_signature_encoding_correct"

func lintResults(t *testing.T, der []byte, reg zl.Registry) map[string]zl.LintResult {
	t.Helper()
	zc, err := zx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]zl.LintResult{}
	for name, r := range zlint.LintCertificateEx(zc, reg).Results {
		out[name] = zl.LintResult{Status: r.Status, Details: r.Details}
	}
	return out
}

// TestLintCopyMatchesIssued checks that the copy zlint reads before the CA
// key signs, with its placeholder signature, gets exactly the results of
// every zlint lint (status and details) that the certificate as issued,
// the same TBS under the CA's real signature, gets: for every profile and
// every key type a request may carry.
func TestLintCopyMatchesIssued(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	reg := zl.GlobalRegistry()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	keys := map[string]crypto.PublicKey{"P-256": ecKey(t, elliptic.P256()).Public(), "P-384": ecKey(t, elliptic.P384()).Public(), "RSA-2048": rsaKey.Public()}
	for _, p := range Profiles {
		for kname, pub := range keys {
			s := citizen()
			if p == ESeal {
				s = eseal()
			}
			ok, err := env.svc.check(Request{Profile: p, PublicKey: pub, Subject: s})
			if err != nil {
				t.Fatal(err)
			}
			lintCopy, err := assembleCertificate(ok.tbs, ok.sigAlg, ok.sig.placeholder)
			if err != nil {
				t.Fatal(err)
			}
			issued, err := env.svc.issue(ctx, ok)
			if err != nil {
				t.Fatal(err)
			}
			got, want := lintResults(t, lintCopy, reg), lintResults(t, issued.Raw, reg)
			if len(got) != len(want) {
				t.Fatalf("%s with %s: %d results on the copy, %d on the certificate", p, kname, len(got), len(want))
			}
			for name, w := range want {
				if g := got[name]; g != w {
					t.Errorf("%s with %s: lint %s gives %v %q on the copy, %v %q on the certificate", p, kname, name, g.Status, g.Details, w.Status, w.Details)
				}
			}
			if r := want[mozillaSigLint]; r.Status != zl.Pass {
				t.Errorf("%s with %s: %s did not pass on the issued certificate: %v %s", p, kname, mozillaSigLint, r.Status, r.Details)
			}
		}
	}
}

// TestLintCopyWrongCurveCaught shows that the lint which reads the
// signature sees the placeholder: a P-256-sized one under the P-384 citizen
// CA's signature algorithm is refused.
func TestLintCopyWrongCurveCaught(t *testing.T) {
	env := newTestEnv(t)
	ok, err := env.svc.check(Request{Profile: CitizenSigning, PublicKey: ecKey(t, elliptic.P256()).Public(), Subject: citizen()})
	if err != nil {
		t.Fatal(err)
	}
	if ok.sig.alg != sigP384().alg {
		t.Fatalf("citizen CA signs with %v, this test expects P-384", ok.sig.alg)
	}
	der, err := assembleCertificate(ok.tbs, ok.sigAlg, sigP256().placeholder)
	if err != nil {
		t.Fatal(err)
	}
	if r := lintResults(t, der, zl.GlobalRegistry())[mozillaSigLint]; r.Status != zl.Error {
		t.Fatalf("%s on a P-256-sized signature under ecdsa-with-SHA384: %v, want error", mozillaSigLint, r.Status)
	}
}

func TestPlaceholderSignature(t *testing.T) {
	for _, tc := range []struct {
		curve elliptic.Curve
		size  int
	}{{elliptic.P256(), 72}, {elliptic.P384(), 104}} {
		der := placeholderSignature(tc.curve)
		if len(der) != tc.size {
			t.Errorf("%s: %d bytes, want %d", tc.curve.Params().Name, len(der), tc.size)
		}
		var v struct{ R, S *big.Int }
		rest, err := asn1.Unmarshal(der, &v)
		if err != nil || len(rest) != 0 {
			t.Fatalf("%s: not an ECDSA-Sig-Value: %v", tc.curve.Params().Name, err)
		}
		for _, x := range []*big.Int{v.R, v.S} {
			if x.Sign() <= 0 || x.Cmp(tc.curve.Params().N) >= 0 {
				t.Errorf("%s: %v outside 1..n-1", tc.curve.Params().Name, x)
			}
		}
	}
}

// faultySigner is a CA key store gone wrong: it signs with another key,
// or returns bytes that are no signature.
type faultySigner struct {
	crypto.Signer
	sign func(digest []byte) ([]byte, error)
}

func (f faultySigner) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	return f.sign(digest)
}

// TestFaultyCAKeyRefused checks that a certificate whose real signature
// does not verify under the issuing CA's public key is neither stored nor
// returned.
func TestFaultyCAKeyRefused(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	ca := env.svc.auth[CitizenCA]
	good := ca.key
	other := ecKey(t, elliptic.P384())
	faults := map[string]func(digest []byte) ([]byte, error){
		"another key": func(d []byte) ([]byte, error) { return other.Sign(rand.Reader, d, crypto.SHA384) },
		"other digest": func(d []byte) ([]byte, error) {
			d = append([]byte(nil), d...)
			d[0] ^= 1
			return good.Sign(rand.Reader, d, crypto.SHA384)
		},
		"bit flip": func(d []byte) ([]byte, error) {
			s, err := good.Sign(rand.Reader, d, crypto.SHA384)
			s[len(s)-1] ^= 1
			return s, err
		},
		"not DER": func([]byte) ([]byte, error) { return []byte("signature"), nil },
		"empty":   func([]byte) ([]byte, error) { return nil, nil },
	}
	before, err := env.svc.List(ctx, CitizenCA, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for name, fault := range faults {
		ca.key = faultySigner{Signer: good, sign: fault}
		c, err := env.svc.Issue(ctx, Request{Profile: CitizenSigning, PublicKey: ecKey(t, elliptic.P256()).Public(), Subject: citizen()})
		if err == nil || c != nil {
			t.Errorf("%s: issued a certificate (%t), err %v", name, c != nil, err)
		}
	}
	ca.key = good
	after, err := env.svc.List(ctx, CitizenCA, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("%d certificates stored by a faulty CA key", len(after)-len(before))
	}
	if _, err := env.svc.Issue(ctx, Request{Profile: CitizenSigning, PublicKey: ecKey(t, elliptic.P256()).Public(), Subject: citizen()}); err != nil {
		t.Fatalf("the good key: %v", err)
	}
}
