package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/thiqa/thiqa/internal/testpki"
)

func TestAlgorithms(t *testing.T) {
	in := makePDF(t, 2000, false)
	tests := []struct {
		key  testpki.KeyType
		hash crypto.Hash
		pss  bool
	}{
		{testpki.ECDSAP256, crypto.SHA256, false},
		{testpki.ECDSAP256, crypto.SHA512, false},
		{testpki.ECDSAP384, crypto.SHA384, false},
		{testpki.RSA2048, crypto.SHA256, false},
		{testpki.RSA2048, crypto.SHA384, false},
		{testpki.RSAPSS, crypto.SHA256, true},
		{testpki.RSAPSS, crypto.SHA512, true},
		{testpki.RSA3072, crypto.SHA512, false},
	}
	p := testpki.New(t, nil)
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%v/pss=%v", tt.key, tt.hash, tt.pss), func(t *testing.T) {
			cert, key := p.IssueSigner(t, tt.key, "Alg Signer")
			o := options(p, LevelBT)
			o.Certificate, o.Hash, o.PSS = cert, tt.hash, tt.pss
			path := writeTemp(t, signBytes(t, in, key, o))
			qpdfCheck(t, path)
			pdfsig(t, path, 1, true)
		})
	}
}

// TestTwoStep signs through Prepare and Complete as an HSM or a
// passkey-approved custody would: the key only sees the digest.
func TestTwoStep(t *testing.T) {
	p := testpki.New(t, nil)
	in := makePDF(t, 2000, true)
	ctx := context.Background()
	prep, digest, err := Prepare(ctx, bytes.NewReader(in), int64(len(in)), options(p, LevelBLT))
	if err != nil {
		t.Fatal(err)
	}
	if len(digest) != 32 || len(prep.DocumentDigest()) != 32 {
		t.Fatalf("digest lengths %d, %d", len(digest), len(prep.DocumentDigest()))
	}
	if _, err := prep.WriteTo(new(bytes.Buffer)); !errors.Is(err, ErrState) {
		t.Fatalf("WriteTo before Complete: %v, want ErrState", err)
	}
	// A signature by another key is refused.
	_, other := p.IssueSigner(t, testpki.ECDSAP256, "Other")
	bad, _ := other.Sign(rand.Reader, digest, prep.SignerOpts())
	if err := prep.Complete(ctx, bad); !errors.Is(err, ErrSignature) {
		t.Fatalf("Complete with a foreign signature: %v, want ErrSignature", err)
	}
	sig, err := p.SignerKey.Sign(rand.Reader, digest, prep.SignerOpts())
	if err != nil {
		t.Fatal(err)
	}
	if err := prep.Complete(ctx, sig); err != nil {
		t.Fatal(err)
	}
	if err := prep.Complete(ctx, sig); !errors.Is(err, ErrState) {
		t.Fatalf("second Complete: %v, want ErrState", err)
	}
	var out bytes.Buffer
	if _, err := prep.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	if int64(out.Len()) != prep.Len() {
		t.Fatalf("wrote %d bytes, Len says %d", out.Len(), prep.Len())
	}
	pdfsig(t, writeTemp(t, out.Bytes()), 1, false)
}

func TestBadInput(t *testing.T) {
	p := testpki.New(t, nil)
	good := makePDF(t, 1000, false)
	tests := []struct {
		name string
		in   []byte
		opts func(*Options)
		want error
	}{
		{"not a pdf", []byte("hello"), nil, nil},
		{"truncated", good[:len(good)/3], nil, ErrDamaged},
		{"empty", nil, nil, nil},
		{"no certificate", good, func(o *Options) { o.Certificate = nil }, ErrOptions},
		{"B-T without TSA", good, func(o *Options) { o.Level, o.Timestamper = LevelBT, nil }, ErrOptions},
		{"B-LT without revocation", good, func(o *Options) { o.Level, o.Revocation = LevelBLT, nil }, ErrOptions},
		{"bad hash", good, func(o *Options) { o.Hash = crypto.SHA1 }, ErrAlgorithm},
		{"bad certify", good, func(o *Options) { o.Certify = 4 }, ErrOptions},
		{"page out of range", good, func(o *Options) { o.Visible = &Visible{Page: 9, Rect: [4]float64{0, 0, 10, 10}} }, ErrOptions},
		{"PSS with ECDSA", good, func(o *Options) { o.PSS = true }, ErrAlgorithm},
		{"key of another certificate", good, func(o *Options) { o.Certificate = p.TSA }, ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := options(p, LevelBB)
			if tt.opts != nil {
				tt.opts(o)
			}
			var out bytes.Buffer
			err := Sign(context.Background(), bytes.NewReader(tt.in), int64(len(tt.in)), &out, p.SignerKey, o)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if out.Len() != 0 {
				t.Fatal("output written on failure")
			}
		})
	}
}

func TestRevokedSigner(t *testing.T) {
	p := testpki.New(t, nil)
	p.Revoke(p.Signer, p.Now.Add(-1))
	in := makePDF(t, 1000, false)
	var out bytes.Buffer
	err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, p.SignerKey, options(p, LevelBLT))
	if !errors.Is(err, ErrRevoked) {
		t.Fatalf("err = %v, want ErrRevoked", err)
	}
}

// TestPrepareDeterministic prepares the same document twice with the same
// clock and randomness: the digests must match (a signing service may
// prepare again when the approval comes back).
func TestPrepareDeterministic(t *testing.T) {
	p := testpki.New(t, nil)
	in := makePDF(t, 2000, false)
	var digests [2][]byte
	for i := range digests {
		o := options(p, LevelBLTA)
		o.Visible = &Visible{Page: 1, Rect: [4]float64{300, 50, 560, 150}}
		o.Appearance = BilingualStamp(StampOptions{NameLatin: "Layla"})
		o.Rand = bytes.NewReader(bytes.Repeat([]byte{7}, 64))
		_, d, err := Prepare(context.Background(), bytes.NewReader(in), int64(len(in)), o)
		if err != nil {
			t.Fatal(err)
		}
		digests[i] = d
	}
	if !bytes.Equal(digests[0], digests[1]) {
		t.Fatal("two preparations of the same document differ")
	}
}
