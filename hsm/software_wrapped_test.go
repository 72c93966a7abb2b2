package hsm_test

import (
	"context"
	"crypto"
	"errors"
	"testing"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/hsm/hsmtest"
)

func TestSoftwareWrappedContract(t *testing.T) {
	hsmtest.RunWrapped(t, func(t *testing.T) hsm.WrappedCustody {
		s, err := hsm.OpenSoftware(t.TempDir(), newKEK(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// FuzzSoftwareSignWithWrapped feeds arbitrary blobs, as read back from the
// store, to SignWithWrapped: no panic, and only a blob sealed for "owner"
// signs.
func FuzzSoftwareSignWithWrapped(f *testing.F) {
	kek := make([]byte, hsm.KEKSize)
	s, err := hsm.OpenSoftware(f.TempDir(), kek, nil)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048} {
		blob, _, err := s.NewWrappedKey(ctx, "owner", alg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(blob)
		f.Add(blob[:len(blob)/3])
	}
	f.Add([]byte("TQSW\x01\xff"))
	d := hsmtest.Digests(crypto.SHA256, 1)
	f.Fuzz(func(t *testing.T, blob []byte) {
		sigs, err := s.SignWithWrapped(ctx, "owner", blob, d, crypto.SHA256)
		if err == nil && len(sigs) != 1 {
			t.Fatalf("%d signatures for one digest", len(sigs))
		}
		if err != nil && !errors.Is(err, hsm.ErrBadBlob) && !errors.Is(err, hsm.ErrWrongOwner) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}

func TestSoftwareSealer(t *testing.T) {
	hsmtest.RunSealer(t, func(t *testing.T) hsm.Sealer {
		s, err := hsm.OpenSoftware(t.TempDir(), newKEK(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// FuzzSoftwareOpenSealed feeds arbitrary values, as read back from the
// store, to Open: no panic, a bounded error class, and only what was
// sealed for "officer:amal" opens, to what was sealed.
func FuzzSoftwareOpenSealed(f *testing.F) {
	s, err := hsm.OpenSoftware(f.TempDir(), make([]byte, hsm.KEKSize), nil)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	sealed, err := s.Seal(ctx, "officer:amal", []byte("JBSWY3DPEHPK3PXP"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add(sealed[:len(sealed)/2])
	f.Add([]byte("TQSD\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := s.Open(ctx, "officer:amal", b)
		if err == nil && string(pt) != "JBSWY3DPEHPK3PXP" {
			t.Fatalf("opened to %q", pt)
		}
		if err != nil && !errors.Is(err, hsm.ErrBadSealed) && !errors.Is(err, hsm.ErrWrongOwner) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}
