package hsmtest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/thiqa/thiqa/hsm"
)

// RunSealer runs the [hsm.Sealer] contract against instances made by open.
func RunSealer(t *testing.T, open func(t *testing.T) hsm.Sealer) {
	ctx := context.Background()
	secret := []byte("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
	c := open(t)
	sealed, err := c.Seal(ctx, "officer:amal", secret)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	t.Run("RoundTrip", func(t *testing.T) {
		got, err := c.Open(ctx, "officer:amal", sealed)
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("Open = %q, %v; want %q", got, err, secret)
		}
	})
	t.Run("NotInClear", func(t *testing.T) {
		if bytes.Contains(sealed, secret) || bytes.Contains(sealed, secret[:8]) {
			t.Fatal("sealed value holds the plaintext")
		}
		again, err := c.Seal(ctx, "officer:amal", secret)
		if err != nil || bytes.Equal(again, sealed) {
			t.Fatalf("sealing twice gave the same bytes (%v): nonces are not fresh", err)
		}
	})
	t.Run("WrongOwner", func(t *testing.T) {
		if _, err := c.Open(ctx, "officer:omar", sealed); !errors.Is(err, hsm.ErrWrongOwner) {
			t.Fatalf("Open for another owner: %v, want ErrWrongOwner", err)
		}
	})
	t.Run("Tampered", func(t *testing.T) {
		for _, i := range []int{len(sealed) - 1, len(sealed) - 20, len(sealed) / 2} {
			if _, err := c.Open(ctx, "officer:amal", flip(sealed, i)); err == nil {
				t.Fatalf("Open of a value with byte %d flipped succeeded", i)
			}
		}
		for _, n := range []int{0, 3, len(sealed) / 2, len(sealed) - 1} {
			if _, err := c.Open(ctx, "officer:amal", sealed[:n]); err == nil {
				t.Fatalf("Open of %d-byte prefix succeeded", n)
			}
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		if _, err := c.Seal(ctx, "", secret); !errors.Is(err, hsm.ErrBadOwner) {
			t.Fatalf("Seal with empty owner: %v", err)
		}
		if _, err := c.Seal(ctx, "o", make([]byte, hsm.MaxSealedLen+1)); !errors.Is(err, hsm.ErrBadSealed) {
			t.Fatalf("Seal of too much: %v", err)
		}
	})
	t.Run("OtherInstance", func(t *testing.T) {
		// Another custody (another KEK) must not open the value.
		if _, err := open(t).Open(ctx, "officer:amal", sealed); err == nil {
			t.Fatal("a custody with another key-encryption key opened the value")
		}
	})
}
