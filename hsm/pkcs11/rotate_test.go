package pkcs11_test

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/hsm/hsmtest"
	"github.com/thiqa/thiqa/hsm/pkcs11"
)

// TestRotateKEK re-wraps stored blobs under a new KEK generation, stopping
// part way and resuming, then retires the old generation.
func TestRotateKEK(t *testing.T) {
	ctx := context.Background()
	c := open(t, newToken(t))
	type rec struct {
		blob []byte
		pub  crypto.PublicKey
	}
	db := map[string]*rec{}
	var owners []string
	for i := range 10 {
		owner := fmt.Sprintf("PNOJO-%010d", i)
		blob, pub, err := c.NewWrappedKey(ctx, owner, hsm.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		db[owner] = &rec{blob, pub}
		owners = append(owners, owner)
	}
	next, err := c.RotateKEK(ctx)
	if err != nil || next != "thiqa-kek-2" {
		t.Fatalf("RotateKEK = %q, %v; want thiqa-kek-2", next, err)
	}
	iter := func(limit int) func() (pkcs11.WrappedRecord, bool, error) {
		i := 0
		return func() (pkcs11.WrappedRecord, bool, error) {
			if i == len(owners) {
				return pkcs11.WrappedRecord{}, false, nil
			}
			if i == limit {
				return pkcs11.WrappedRecord{}, false, errors.New("store went away")
			}
			o := owners[i]
			i++
			return pkcs11.WrappedRecord{Owner: o, Blob: db[o].blob}, true, nil
		}
	}
	save := func(r pkcs11.WrappedRecord) error { db[r.Owner].blob = r.Blob; return nil }
	var seen []pkcs11.RotationProgress
	p, err := c.RotateAll(ctx, iter(4), save, func(p pkcs11.RotationProgress) { seen = append(seen, p) })
	if err == nil || p.Moved != 4 {
		t.Fatalf("interrupted rotation = %+v, %v; want 4 moved and an error", p, err)
	}
	p, err = c.RotateAll(ctx, iter(-1), save, func(p pkcs11.RotationProgress) { seen = append(seen, p) })
	if err != nil || p != (pkcs11.RotationProgress{Seen: 10, Moved: 6, Current: 4}) {
		t.Fatalf("resumed rotation = %+v, %v; want 10 seen, 6 moved, 4 current", p, err)
	}
	if len(seen) != 14 {
		t.Errorf("%d progress reports, want 14", len(seen))
	}
	if err := c.DestroyKEK(ctx, "thiqa-kek-2"); err == nil {
		t.Error("destroyed the current KEK")
	}
	if err := c.DestroyKEK(ctx, "thiqa-kek-1"); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.KEKs, []string{"thiqa-kek-2"}) {
		t.Fatalf("KEKs after rotation = %v", st.KEKs)
	}
	for _, o := range owners {
		d := hsmtest.Digests(crypto.SHA256, 1)
		sigs, err := c.SignWithWrapped(ctx, o, db[o].blob, d, crypto.SHA256)
		if err != nil {
			t.Fatalf("%s after rotation: %v", o, err)
		}
		if err := hsmtest.Verify(db[o].pub, d[0], sigs[0], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SignWithWrapped(ctx, owners[0]+"x", db[o].blob, d, crypto.SHA256); !errors.Is(err, hsm.ErrWrongOwner) {
			t.Fatalf("rotated blob of %s used for another owner: %v", o, err)
		}
	}
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	tk := newToken(t)
	c := open(t, tk)
	if _, err := c.GenerateKey(ctx, "root-ca", hsm.ECDSAP384); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Token != tk.Label || st.Manufacturer == "" || st.Serial == "" || st.Sessions < 1 {
		t.Errorf("token information = %+v", st)
	}
	if !slices.Equal(st.Keys, []hsm.KeyID{"root-ca"}) || !slices.Equal(st.KEKs, []string{"thiqa-kek-1"}) {
		t.Errorf("keys %v, KEKs %v; want [root-ca], [thiqa-kek-1]", st.Keys, st.KEKs)
	}
}
