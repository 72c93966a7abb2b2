package pkcs11_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/hsm/hsmtest"
)

func TestContract(t *testing.T) {
	hsmtest.Run(t, func(t *testing.T) hsm.Custody { return open(t, newToken(t)) })
}

func TestWrappedContract(t *testing.T) {
	hsmtest.RunWrapped(t, func(t *testing.T) hsm.WrappedCustody { return open(t, newToken(t)) })
}

func TestSealerContract(t *testing.T) {
	hsmtest.RunSealer(t, func(t *testing.T) hsm.Sealer { return open(t, newToken(t)) })
}

// TestSealedAcrossRotation: a value sealed under one key-encryption key
// still opens after the next generation is made current.
func TestSealedAcrossRotation(t *testing.T) {
	c := open(t, newToken(t))
	ctx := context.Background()
	sealed, err := c.Seal(ctx, "officer:amal", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RotateKEK(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Open(ctx, "officer:amal", sealed); err != nil || string(got) != "secret" {
		t.Fatalf("Open after rotation = %q, %v", got, err)
	}
	newer, err := c.Seal(ctx, "officer:amal", []byte("secret"))
	if err != nil || bytes.Equal(newer[:6+int(newer[5])], sealed[:6+int(sealed[5])]) {
		t.Fatalf("Seal after rotation did not name the new KEK (%v)", err)
	}
}
