package pkcs11_test

import (
	"context"
	"crypto"
	"errors"
	"testing"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/hsm/hsmtest"
	"github.com/thiqa/thiqa/hsm/pkcs11"
)

// FuzzSignWithWrapped feeds arbitrary blobs, as read back from the store,
// to SignWithWrapped on SoftHSM2, seeded with real blobs: no panic, no
// object left behind, and only errors of the documented kinds.
func FuzzSignWithWrapped(f *testing.F) {
	c := open(f, newToken(f))
	ctx := context.Background()
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048} {
		blob, _, err := c.NewWrappedKey(ctx, "owner", alg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(blob)
		f.Add(blob[:len(blob)-1])
		f.Add(blob[:len(blob)/2])
	}
	f.Add([]byte("TQPK\x01\x0bthiqa-kek-1\x07EC-P256\x00\x01x"))
	d := hsmtest.Digests(crypto.SHA256, 1)
	f.Fuzz(func(t *testing.T, blob []byte) {
		sigs, err := c.SignWithWrapped(ctx, "owner", blob, d, crypto.SHA256)
		if err == nil {
			if len(sigs) != 1 {
				t.Fatalf("%d signatures for one digest", len(sigs))
			}
			return
		}
		if !errors.Is(err, hsm.ErrBadBlob) && !errors.Is(err, hsm.ErrWrongOwner) && !errors.Is(err, pkcs11.ErrNoKEK) {
			t.Fatalf("unexpected error: %v", err)
		}
	})
}
