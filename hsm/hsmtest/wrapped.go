package hsmtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/thiqa/thiqa/hsm"
)

// RunWrapped runs the wrapped-custody contract against instances made by
// open.
func RunWrapped(t *testing.T, open func(t *testing.T) hsm.WrappedCustody) {
	ctx := context.Background()
	t.Run("SignVerifies", func(t *testing.T) {
		c := open(t)
		for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.ECDSAP384, hsm.RSA2048} {
			t.Run(string(alg), func(t *testing.T) {
				blob, pub, err := c.NewWrappedKey(ctx, "PNOJO-9871000001", alg)
				if err != nil {
					t.Fatalf("NewWrappedKey: %v", err)
				}
				for _, opts := range signerOpts(pub) {
					digests := Digests(opts.HashFunc(), 3)
					sigs, err := c.SignWithWrapped(ctx, "PNOJO-9871000001", blob, digests, opts)
					if err != nil {
						t.Fatalf("SignWithWrapped(%T): %v", opts, err)
					}
					if len(sigs) != len(digests) {
						t.Fatalf("%d signatures for %d digests", len(sigs), len(digests))
					}
					for i := range sigs {
						if err := Verify(pub, digests[i], sigs[i], opts); err != nil {
							t.Fatalf("signature %d: %v", i, err)
						}
					}
				}
			})
		}
	})
	t.Run("FreshKeys", func(t *testing.T) {
		c := open(t)
		_, a, err := c.NewWrappedKey(ctx, "owner", hsm.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		_, b, err := c.NewWrappedKey(ctx, "owner", hsm.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		if a.(*ecdsa.PublicKey).Equal(b) {
			t.Fatal("two NewWrappedKey calls returned the same key")
		}
	})
	t.Run("BoundToOwner", func(t *testing.T) {
		c := open(t)
		blob, pub, err := c.NewWrappedKey(ctx, "PNOJO-1000000001", hsm.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		d := Digests(crypto.SHA256, 1)
		for _, other := range []string{"PNOJO-1000000002", "PNOJO-100000000", "PNOJO-1000000001 ", "pnojo-1000000001"} {
			if _, err := c.SignWithWrapped(ctx, other, blob, d, crypto.SHA256); !errors.Is(err, hsm.ErrWrongOwner) {
				t.Errorf("blob of PNOJO-1000000001 used for %q: err = %v, want ErrWrongOwner", other, err)
			}
		}
		sigs, err := c.SignWithWrapped(ctx, "PNOJO-1000000001", blob, d, crypto.SHA256)
		if err != nil {
			t.Fatalf("owner after refusals: %v", err)
		}
		if err := Verify(pub, d[0], sigs[0], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Tampered", func(t *testing.T) {
		c := open(t)
		blob, _, err := c.NewWrappedKey(ctx, "owner", hsm.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		d := Digests(crypto.SHA256, 1)
		bad := map[string][]byte{
			"empty":     nil,
			"truncated": blob[:len(blob)/2],
			"last byte": flip(blob, len(blob)-1),
			"middle":    flip(blob, len(blob)/2),
			"first":     flip(blob, 0),
			"long":      append(append([]byte{}, blob...), make([]byte, 64<<10)...),
		}
		for name, b := range bad {
			_, err := c.SignWithWrapped(ctx, "owner", b, d, crypto.SHA256)
			if !errors.Is(err, hsm.ErrBadBlob) && !errors.Is(err, hsm.ErrWrongOwner) {
				t.Errorf("%s: err = %v, want ErrBadBlob or ErrWrongOwner", name, err)
			}
		}
	})
	t.Run("BadRequests", func(t *testing.T) {
		c := open(t)
		if _, _, err := c.NewWrappedKey(ctx, "", hsm.ECDSAP256); !errors.Is(err, hsm.ErrBadOwner) {
			t.Errorf("NewWrappedKey(empty owner) = %v, want ErrBadOwner", err)
		}
		if _, _, err := c.NewWrappedKey(ctx, "owner", "DSA-1024"); !errors.Is(err, hsm.ErrBadAlgorithm) {
			t.Errorf("NewWrappedKey(DSA) = %v, want ErrBadAlgorithm", err)
		}
		blob, _, err := c.NewWrappedKey(ctx, "owner", hsm.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name    string
			digests [][]byte
			opts    crypto.SignerOpts
			want    error
		}{
			{"none", nil, crypto.SHA256, hsm.ErrBadDigests},
			{"too many", Digests(crypto.SHA256, hsm.MaxDigestsPerSigning+1), crypto.SHA256, hsm.ErrBadDigests},
			{"short", [][]byte{make([]byte, 20)}, crypto.SHA256, hsm.ErrBadDigests},
			{"no hash", Digests(crypto.SHA256, 1), crypto.Hash(0), hsm.ErrBadDigests},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := c.SignWithWrapped(ctx, "owner", blob, tc.digests, tc.opts); !errors.Is(err, tc.want) {
					t.Errorf("err = %v, want %v", err, tc.want)
				}
			})
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		c := open(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- signRounds(ctx, c, fmt.Sprintf("PNOJO-%010d", g), 4)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
}

func signRounds(ctx context.Context, c hsm.WrappedCustody, owner string, n int) error {
	blob, pub, err := c.NewWrappedKey(ctx, owner, hsm.ECDSAP256)
	if err != nil {
		return err
	}
	for range n {
		d := Digests(crypto.SHA256, 2)
		sigs, err := c.SignWithWrapped(ctx, owner, blob, d, crypto.SHA256)
		if err != nil {
			return err
		}
		for i := range d {
			if err := Verify(pub, d[i], sigs[i], crypto.SHA256); err != nil {
				return err
			}
		}
	}
	return nil
}

func signerOpts(pub crypto.PublicKey) []crypto.SignerOpts {
	if _, ok := pub.(*rsa.PublicKey); ok {
		return []crypto.SignerOpts{crypto.SHA256, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA384}}
	}
	return []crypto.SignerOpts{crypto.SHA256, crypto.SHA384}
}

// Digests returns n distinct digests made with h (SHA-256, -384 or -512).
func Digests(h crypto.Hash, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		msg := fmt.Appendf(nil, "document %d", i)
		switch h {
		case crypto.SHA384:
			d := sha512.Sum384(msg)
			out[i] = d[:]
		case crypto.SHA512:
			d := sha512.Sum512(msg)
			out[i] = d[:]
		default:
			d := sha256.Sum256(msg)
			out[i] = d[:]
		}
	}
	return out
}

// Verify checks sig over digest with pub: ECDSA (ASN.1), RSA PKCS #1 v1.5 or
// RSA-PSS when opts is *rsa.PSSOptions.
func Verify(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return rsa.VerifyPSS(pub, opts.HashFunc(), digest, sig, pss)
		}
		return rsa.VerifyPKCS1v15(pub, opts.HashFunc(), digest, sig)
	}
	return fmt.Errorf("unexpected public key %T", pub)
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 0x01
	return c
}
