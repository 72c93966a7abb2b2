package ca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"math/big"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func ecdsaSig(r, s *big.Int) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.BytesOrPanic()
}

// fixedP384Key is a P-384 key with a fixed scalar, so fuzz corpora keep
// their meaning from run to run.
func fixedP384Key(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P384(), bytes.Repeat([]byte{0x5a}, 48))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestVerifyP384 holds verifyP384 to crypto/ecdsa's answer on valid
// signatures and on every way this test knows to spoil one.
func TestVerifyP384(t *testing.T) {
	n := elliptic.P384().Params().N
	other := ecKey(t, elliptic.P384()).(*ecdsa.PrivateKey)
	for i := range 16 {
		k := ecKey(t, elliptic.P384()).(*ecdsa.PrivateKey)
		if i == 0 {
			k = fixedP384Key(t)
		}
		d := sha512.Sum384([]byte{byte(i)})
		sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		var parsed struct{ R, S *big.Int }
		in := cryptobyte.String(sig)
		var inner cryptobyte.String
		parsed.R, parsed.S = new(big.Int), new(big.Int)
		if !in.ReadASN1(&inner, cbasn1.SEQUENCE) || !inner.ReadASN1Integer(parsed.R) || !inner.ReadASN1Integer(parsed.S) {
			t.Fatal("cannot parse crypto/ecdsa's signature")
		}
		r, s := parsed.R, parsed.S
		flipped := append([]byte(nil), sig...)
		flipped[len(flipped)-1-i%40] ^= 1 << (i % 8)
		otherDigest := d
		otherDigest[i%48] ^= 0x80
		sha512d := sha512.Sum512([]byte{byte(i)})
		cases := map[string]struct {
			pub    *ecdsa.PublicKey
			digest []byte
			sig    []byte
			valid  bool
		}{
			"valid":           {&k.PublicKey, d[:], sig, true},
			"high s":          {&k.PublicKey, d[:], ecdsaSig(r, new(big.Int).Sub(n, s)), true},
			"bit flipped":     {&k.PublicKey, d[:], flipped, false},
			"other digest":    {&k.PublicKey, otherDigest[:], sig, false},
			"other key":       {&other.PublicKey, d[:], sig, false},
			"r zero":          {&k.PublicKey, d[:], ecdsaSig(big.NewInt(0), s), false},
			"s zero":          {&k.PublicKey, d[:], ecdsaSig(r, big.NewInt(0)), false},
			"r plus n":        {&k.PublicKey, d[:], ecdsaSig(new(big.Int).Add(r, n), s), false},
			"s plus n":        {&k.PublicKey, d[:], ecdsaSig(r, new(big.Int).Add(s, n)), false},
			"r negative":      {&k.PublicKey, d[:], ecdsaSig(new(big.Int).Neg(r), s), false},
			"swapped":         {&k.PublicKey, d[:], ecdsaSig(s, r), false},
			"trailing byte":   {&k.PublicKey, d[:], append(append([]byte(nil), sig...), 0), false},
			"truncated":       {&k.PublicKey, d[:], sig[:len(sig)-1], false},
			"empty":           {&k.PublicKey, d[:], nil, false},
			"long digest":     {&k.PublicKey, sha512d[:], mustSign(t, k, sha512d[:]), true},
			"long digest cut": {&k.PublicKey, sha512d[:48], mustSign(t, k, sha512d[:]), true},
			"short digest":    {&k.PublicKey, d[:20], mustSign(t, k, d[:20]), true},
			"zero digest":     {&k.PublicKey, make([]byte, 48), mustSign(t, k, make([]byte, 48)), true},
			"digest n":        {&k.PublicKey, n.Bytes(), mustSign(t, k, n.Bytes()), true},
			"r for s":         {&k.PublicKey, d[:], ecdsaSig(r, r), false},
		}
		for name, c := range cases {
			want := ecdsa.VerifyASN1(c.pub, c.digest, c.sig)
			if want != c.valid {
				t.Fatalf("%d %s: crypto/ecdsa says %t, the test expected %t", i, name, want, c.valid)
			}
			if got := verifyP384(c.pub, c.digest, c.sig); got != want {
				t.Errorf("%d %s: verifyP384 %t, crypto/ecdsa %t", i, name, got, want)
			}
		}
	}
}

func mustSign(t testing.TB, k *ecdsa.PrivateKey, digest []byte) []byte {
	t.Helper()
	sig, err := ecdsa.SignASN1(rand.Reader, k, digest)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// FuzzVerifyP384 holds verifyP384 to crypto/ecdsa's answer on any digest
// and signature bytes, seeded with valid signatures.
func FuzzVerifyP384(f *testing.F) {
	k := fixedP384Key(f)
	for i := range 8 {
		d := sha512.Sum384([]byte{byte(i)})
		f.Add(d[:], mustSign(f, k, d[:]))
	}
	f.Add([]byte{}, []byte{0x30, 0})
	f.Fuzz(func(t *testing.T, digest, sig []byte) {
		if got, want := verifyP384(&k.PublicKey, digest, sig), ecdsa.VerifyASN1(&k.PublicKey, digest, sig); got != want {
			t.Fatalf("verifyP384 %t, crypto/ecdsa %t", got, want)
		}
	})
}

// BenchmarkVerifyP384 compares the CA's check of its own P-384 signature
// with crypto/ecdsa's.
func BenchmarkVerifyP384(b *testing.B) {
	k := fixedP384Key(b)
	d := sha512.Sum384([]byte("tbs"))
	sig := mustSign(b, k, d[:])
	for name, verify := range map[string]func(*ecdsa.PublicKey, []byte, []byte) bool{
		"crypto-ecdsa": ecdsa.VerifyASN1, "circl": verifyP384,
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if !verify(&k.PublicKey, d[:], sig) {
					b.Fatal("valid signature refused")
				}
			}
		})
	}
}
