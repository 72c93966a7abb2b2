package tsp

import (
	"bytes"
	"context"
	"crypto"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func addSeeds(f *testing.F) {
	f.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "*.tsq"))
	if err != nil || len(names) == 0 {
		f.Fatalf("no seed requests in testdata: %v", err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
}

// FuzzParseRequest checks that ParseRequest never panics, fails only with a
// *RequestError and that accepted requests survive a write-parse round trip.
func FuzzParseRequest(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, der []byte) {
		req, err := ParseRequest(der)
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || re.Failure == 0 {
				t.Fatalf("error %v is not a RequestError with a failure", err)
			}
			return
		}
		again, err := NewRequest(req.HashAlgorithm, req.HashedMessage, RequestOptions{Policy: req.Policy, Nonce: req.Nonce, CertReq: req.CertReq})
		if err != nil {
			t.Fatalf("NewRequest of a parsed request: %v", err)
		}
		if !bytes.Equal(again, der) {
			// Only the NULL parameters of the hash algorithm may differ.
			req2, err := ParseRequest(again)
			if err != nil || req2.HashAlgorithm != req.HashAlgorithm || !bytes.Equal(req2.HashedMessage, req.HashedMessage) {
				t.Fatalf("round trip differs: %x vs %x", der, again)
			}
		}
	})
}

// FuzzRespond checks that any bytes give a well-formed TimeStampResp, with
// no error and no panic.
func FuzzRespond(f *testing.F) {
	addSeeds(f)
	p := newPKI(f, "p256")
	a := newAuthority(f, p, Options{AcceptPolicies: []asn1.ObjectIdentifier{{1, 2, 3, 4, 5}}})
	f.Fuzz(func(t *testing.T, der []byte) {
		resp, err := a.Respond(context.Background(), der)
		if err != nil {
			t.Fatalf("Respond: %v", err)
		}
		r, err := ParseResponse(resp)
		if err != nil {
			t.Fatalf("ParseResponse of our response: %v", err)
		}
		var raw asn1.RawValue
		if rest, err := asn1.Unmarshal(resp, &raw); err != nil || len(rest) != 0 {
			t.Fatalf("encoding/asn1 rejects our response: %v", err)
		}
		switch r.Status {
		case StatusGranted:
			req, err := ParseRequest(der)
			if err != nil || r.Info == nil || !bytes.Equal(r.Info.HashedMessage, req.HashedMessage) {
				t.Fatalf("granted a bad request or lost the imprint: %v", err)
			}
			if req.Nonce != nil && (r.Info.Nonce == nil || r.Info.Nonce.Cmp(req.Nonce) != 0) {
				t.Fatalf("nonce %v not echoed: %v", req.Nonce, r.Info.Nonce)
			}
		case StatusRejection:
			if r.Failure == 0 || r.Token != nil {
				t.Fatalf("rejection without failure info or with a token: %+v", r)
			}
		default:
			t.Fatalf("unexpected status %v", r.Status)
		}
	})
}

// FuzzParseResponse checks that ParseResponse never panics on outside bytes.
func FuzzParseResponse(f *testing.F) {
	p := newPKI(f, "p256")
	a := newAuthority(f, p, Options{Qualified: true, Accuracy: 1500 * time.Microsecond})
	for _, name := range []string{"sha256-nonce-cert.tsq", "sha384-nononce.tsq", "sha1.tsq"} {
		q, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		resp, err := a.Respond(context.Background(), q)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(resp)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		r, err := ParseResponse(der)
		if err != nil {
			return
		}
		if r.Token != nil && r.Info == nil {
			t.Fatal("token without info")
		}
		if r.Info != nil && r.Info.HashAlgorithm != 0 && r.Info.HashAlgorithm != crypto.SHA256 &&
			r.Info.HashAlgorithm != crypto.SHA384 && r.Info.HashAlgorithm != crypto.SHA512 {
			t.Fatalf("unexpected hash %v", r.Info.HashAlgorithm)
		}
	})
}
