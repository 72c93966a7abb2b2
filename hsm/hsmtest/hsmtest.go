// Package hsmtest is the contract test suite that every key-custody backend
// of package hsm must pass. It is imported only by tests.
package hsmtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/thiqa/thiqa/hsm"
)

// Run runs the custody contract against fresh instances made by open. open
// must return an empty custody each time it is called.
func Run(t *testing.T, open func(t *testing.T) hsm.Custody) {
	ctx := context.Background()
	t.Run("GenerateAndSign", func(t *testing.T) {
		c := open(t)
		for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.ECDSAP384, hsm.RSA2048} {
			id := hsm.KeyID(strings.ToLower("k-" + string(alg)))
			k, err := c.GenerateKey(ctx, id, alg)
			if err != nil {
				t.Fatalf("GenerateKey(%s): %v", alg, err)
			}
			if k.ID() != id || k.Algorithm() != alg {
				t.Fatalf("key = %s/%s, want %s/%s", k.ID(), k.Algorithm(), id, alg)
			}
			checkSigns(t, k)
			again, err := c.Key(ctx, id)
			if err != nil {
				t.Fatalf("Key(%s): %v", id, err)
			}
			checkSigns(t, again)
		}
		ids, err := c.Keys(ctx)
		if err != nil || len(ids) != 3 {
			t.Fatalf("Keys() = %v, %v; want 3 keys", ids, err)
		}
	})
	t.Run("NeverOverwrites", func(t *testing.T) {
		c := open(t)
		k, err := c.GenerateKey(ctx, "root", hsm.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.GenerateKey(ctx, "root", hsm.ECDSAP384); !errors.Is(err, hsm.ErrKeyExists) {
			t.Fatalf("second GenerateKey = %v, want ErrKeyExists", err)
		}
		again, err := c.Key(ctx, "root")
		if err != nil {
			t.Fatal(err)
		}
		if !again.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
			t.Fatal("key changed after refused overwrite")
		}
	})
	t.Run("Errors", func(t *testing.T) {
		c := open(t)
		if _, err := c.Key(ctx, "missing"); !errors.Is(err, hsm.ErrKeyNotFound) {
			t.Errorf("Key(missing) = %v, want ErrKeyNotFound", err)
		}
		for _, id := range []hsm.KeyID{"", "../etc/passwd", "UPPER", "a/b", hsm.KeyID(make([]byte, 200))} {
			if _, err := c.GenerateKey(ctx, id, hsm.ECDSAP256); !errors.Is(err, hsm.ErrBadKeyID) {
				t.Errorf("GenerateKey(%q) = %v, want ErrBadKeyID", id, err)
			}
		}
		if _, err := c.GenerateKey(ctx, "x", "DSA-1024"); !errors.Is(err, hsm.ErrBadAlgorithm) {
			t.Errorf("GenerateKey(DSA) = %v, want ErrBadAlgorithm", err)
		}
	})
	t.Run("ConcurrentGenerateOneWins", func(t *testing.T) {
		c := open(t)
		var wg sync.WaitGroup
		results := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.GenerateKey(ctx, "contested", hsm.ECDSAP256)
				results <- err
			}()
		}
		wg.Wait()
		close(results)
		wins := 0
		for err := range results {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, hsm.ErrKeyExists):
				t.Errorf("GenerateKey: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d concurrent generations of one identifier succeeded, want 1", wins)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		c := open(t)
		if _, err := c.GenerateKey(ctx, "shared", hsm.ECDSAP256); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := c.Key(ctx, "shared")
				if err != nil {
					errs <- err
					return
				}
				d := sha256.Sum256([]byte("x"))
				sig, err := k.Sign(rand.Reader, d[:], crypto.SHA256)
				if err != nil {
					errs <- err
					return
				}
				if !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
					errs <- errors.New("bad signature")
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func checkSigns(t *testing.T, k hsm.Key) {
	t.Helper()
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		d := sha256.Sum256([]byte("thiqa"))
		sig, err := k.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil || !ecdsa.VerifyASN1(pub, d[:], sig) {
			t.Fatalf("%s: ECDSA signature does not verify (err %v)", k.ID(), err)
		}
	case *rsa.PublicKey:
		d := sha512.Sum384([]byte("thiqa"))
		sig, err := k.Sign(rand.Reader, d[:], crypto.SHA384)
		if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA384, d[:], sig) != nil {
			t.Fatalf("%s: RSA PKCS#1 v1.5 signature does not verify (err %v)", k.ID(), err)
		}
		pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA384}
		sig, err = k.Sign(rand.Reader, d[:], pss)
		if err != nil || rsa.VerifyPSS(pub, crypto.SHA384, d[:], sig, pss) != nil {
			t.Fatalf("%s: RSA-PSS signature does not verify (err %v)", k.ID(), err)
		}
	default:
		t.Fatalf("%s: unexpected public key %T", k.ID(), pub)
	}
}
