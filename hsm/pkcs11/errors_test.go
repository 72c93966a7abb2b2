package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/hsm/hsmtest"
	"github.com/thiqa/thiqa/hsm/pkcs11"
)

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	tk := newToken(t)
	cases := []struct {
		name string
		uri  string
		want error
	}{
		{"wrong PIN", tk.URI("0000"), pkcs11.ErrWrongPIN},
		{"missing token", fmt.Sprintf("pkcs11:token=no-such-token?module-path=%s&pin-value=1234", softhsmModule), pkcs11.ErrTokenNotFound},
		{"missing module", "pkcs11:token=thiqa?module-path=/nonexistent/libpkcs11.so&pin-value=1234", pkcs11.ErrModule},
		{"bad URI", "pkcs11:token=thiqa", pkcs11.ErrBadURI},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := pkcs11.OpenURI(ctx, tc.uri, nil)
			if !errors.Is(err, tc.want) {
				if c != nil {
					c.Close()
				}
				t.Fatalf("OpenURI = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("right PIN after wrong ones", func(t *testing.T) {
		open(t, tk)
	})
}

func TestKeyErrors(t *testing.T) {
	ctx := context.Background()
	tk := newToken(t)
	c, err := pkcs11.OpenURI(ctx, tk.URI("1234"), nil) // no KEK
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Key(ctx, "absent"); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Errorf("Key(absent) = %v, want ErrKeyNotFound", err)
	}
	if _, _, err := c.NewWrappedKey(ctx, "owner", hsm.ECDSAP256); !errors.Is(err, pkcs11.ErrNoKEK) {
		t.Errorf("NewWrappedKey without KEK = %v, want ErrNoKEK", err)
	}
	k, err := c.GenerateKey(ctx, "ca", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	if _, err := k.Sign(nil, d[:20], crypto.SHA256); !errors.Is(err, pkcs11.ErrSignerOpts) {
		t.Errorf("Sign(short digest) = %v, want ErrSignerOpts", err)
	}
	c.Close()
	if _, err := k.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, pkcs11.ErrClosed) {
		t.Errorf("Sign after Close = %v, want ErrClosed", err)
	}
}

// TestTokenReinitialised removes the token under a running custody and puts
// a fresh one with the same label in its place: the custody reports the
// missing key, then works with the new token without being reopened.
func TestTokenReinitialised(t *testing.T) {
	ctx := context.Background()
	tk := newToken(t)
	c := open(t, tk)
	k, err := c.GenerateKey(ctx, "ocsp", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	blob, _, err := c.NewWrappedKey(ctx, "PNOJO-1", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("before"))
	if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}

	tk.Util(t, "--delete-token", "--token", tk.Label)
	if _, err := k.Sign(nil, d[:], crypto.SHA256); err == nil {
		t.Fatal("signed with a key whose token was deleted")
	} else if !errors.Is(err, pkcs11.ErrTokenNotFound) && !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("Sign with the token gone = %v, want ErrTokenNotFound or ErrKeyNotFound", err)
	}

	tk.Util(t, "--init-token", "--free", "--label", tk.Label, "--pin", "1234", "--so-pin", "5678")
	if _, err := k.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("Sign on the new token = %v, want ErrKeyNotFound", err)
	}
	if _, err := c.SignWithWrapped(ctx, "PNOJO-1", blob, [][]byte{d[:]}, crypto.SHA256); !errors.Is(err, pkcs11.ErrNoKEK) {
		t.Fatalf("SignWithWrapped on the new token = %v, want ErrNoKEK", err)
	}
	if _, err := c.RotateKEK(ctx); err != nil {
		t.Fatalf("RotateKEK on the new token: %v", err)
	}
	k2, err := c.GenerateKey(ctx, "ocsp-2", hsm.ECDSAP256)
	if err != nil {
		t.Fatalf("GenerateKey on the new token: %v", err)
	}
	sig, err := k2.Sign(nil, d[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(k2.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatalf("Sign on the new token: %v", err)
	}
}

// TestConcurrentSigning signs from 64 goroutines through a pool of 4
// sessions, with token keys and wrapped keys at once.
func TestConcurrentSigning(t *testing.T) {
	ctx := context.Background()
	tk := newToken(t)
	c, err := pkcs11.OpenURI(ctx, tk.URI("1234")+"&max-sessions=4", &pkcs11.Options{CreateKEK: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st, err := c.Status(ctx); err != nil || st.Sessions != 4 {
		t.Fatalf("pool of %d sessions (err %v), want max-sessions=4", st.Sessions, err)
	}
	k, err := c.GenerateKey(ctx, "tsu", hsm.ECDSAP384)
	if err != nil {
		t.Fatal(err)
	}
	blob, pub, err := c.NewWrappedKey(ctx, "PNOJO-7", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				msg := fmt.Appendf(nil, "%d/%d", g, i)
				if g%2 == 0 {
					d := sha256.Sum256(msg)
					sigs, err := c.SignWithWrapped(ctx, "PNOJO-7", blob, [][]byte{d[:]}, crypto.SHA256)
					if err == nil {
						err = hsmtest.Verify(pub, d[:], sigs[0], crypto.SHA256)
					}
					if err != nil {
						errs <- err
						return
					}
					continue
				}
				d := hsmtest.Digests(crypto.SHA384, 1)[0]
				sig, err := k.Sign(nil, d, crypto.SHA384)
				if err == nil {
					err = hsmtest.Verify(k.Public(), d, sig, crypto.SHA384)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
