package hsm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"testing"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/hsm/hsmtest"
)

// TestSoftwareRotation moves custody keys, a wrapped citizen key and a
// sealed value from one KEK to another, twice (the second run moves
// nothing), and checks that they work under the new KEK only.
func TestSoftwareRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := hsm.OpenSoftware(filepath.Join(dir, "keys"), newKEK(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	next, err := hsm.OpenSoftware(filepath.Join(dir, "keys.next"), newKEK(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for id, alg := range map[hsm.KeyID]hsm.Algorithm{"k-ecdsa-p384": hsm.ECDSAP384, "k-rsa-2048": hsm.RSA2048} {
		if _, err := old.GenerateKey(ctx, id, alg); err != nil {
			t.Fatal(err)
		}
	}
	blob, pub, err := old.NewWrappedKey(ctx, "identity:a", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := old.Seal(ctx, "officer:omar", []byte("JBSWY3DPEHPK3PXP"))
	if err != nil {
		t.Fatal(err)
	}
	r := hsm.SoftwareRotation{Old: old, New: next}
	for round, want := range []int{2, 0} {
		n, err := r.CopyKeys(ctx)
		if err != nil || n != want {
			t.Fatalf("round %d: CopyKeys = %d, %v; want %d", round, n, err, want)
		}
	}
	for _, id := range []hsm.KeyID{"k-ecdsa-p384", "k-rsa-2048"} {
		ok, err := old.Key(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		nk, err := next.Key(ctx, id)
		if err != nil {
			t.Fatalf("key %s under the new KEK: %v", id, err)
		}
		if !nk.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(ok.Public()) {
			t.Fatalf("key %s changed in rotation", id)
		}
	}
	moved, changed, err := r.RewrapKey(ctx, "identity:a", blob)
	if err != nil || !changed || bytes.Equal(moved, blob) {
		t.Fatalf("RewrapKey = changed %v, %v", changed, err)
	}
	if again, changed, err := r.RewrapKey(ctx, "identity:a", moved); err != nil || changed || !bytes.Equal(again, moved) {
		t.Fatalf("RewrapKey of a moved blob = changed %v, %v", changed, err)
	}
	if _, _, err := r.RewrapKey(ctx, "identity:b", blob); !errors.Is(err, hsm.ErrWrongOwner) {
		t.Fatalf("RewrapKey for another owner = %v, want ErrWrongOwner", err)
	}
	d := sha256.Sum256([]byte("document"))
	sigs, err := next.SignWithWrapped(ctx, "identity:a", moved, [][]byte{d[:]}, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := hsmtest.Verify(pub, d[:], sigs[0], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if _, err := old.SignWithWrapped(ctx, "identity:a", moved, [][]byte{d[:]}, crypto.SHA256); err == nil {
		t.Fatal("the old KEK opens a re-wrapped blob")
	}
	resealed, changed, err := r.ResealValue(ctx, "officer:omar", sealed)
	if err != nil || !changed {
		t.Fatalf("ResealValue = changed %v, %v", changed, err)
	}
	if _, changed, err := r.ResealValue(ctx, "officer:omar", resealed); err != nil || changed {
		t.Fatalf("ResealValue of a moved value = changed %v, %v", changed, err)
	}
	if plain, err := next.Open(ctx, "officer:omar", resealed); err != nil || string(plain) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("Open under the new KEK = %q, %v", plain, err)
	}
	if _, _, err := r.ResealValue(ctx, "officer:sara", sealed); err == nil {
		t.Fatal("ResealValue for another owner succeeded")
	}
}
