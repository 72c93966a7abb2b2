package ca

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/store"
)

// forcedSerials is a random source that answers the next 20-byte reads
// (the size of a serial number draw) from a queue, and every other read
// from crypto/rand.
type forcedSerials struct {
	mu    sync.Mutex
	queue [][]byte
}

func (f *forcedSerials) force(b []byte, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.queue = append(f.queue, bytes.Clone(b))
	}
}

func (f *forcedSerials) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(p) == 20 && len(f.queue) > 0 {
		copy(p, f.queue[0])
		f.queue = f.queue[1:]
		return len(p), nil
	}
	return rand.Read(p)
}

// TestSerialCollision checks that serial numbers are unique in the store
// (issue 3): an issuance whose random serial is already taken draws
// another, and one that keeps colliding is refused with nothing stored
// and the earlier certificate untouched.
func TestSerialCollision(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kek := make([]byte, hsm.KEKSize)
	rand.Read(kek)
	keys, err := hsm.OpenSoftware(filepath.Join(dir, "keys"), kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenBolt(filepath.Join(dir, "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	src := &forcedSerials{}
	svc, err := Init(ctx, DefaultConfig(), keys, st, Options{Clock: func() time.Time { return testNow }, Rand: src})
	if err != nil {
		t.Fatal(err)
	}
	issue := func() (*x509.Certificate, error) {
		return svc.Issue(ctx, Request{Profile: CitizenSigning, PublicKey: ecKey(t, elliptic.P256()).Public(), Subject: citizen()})
	}
	count := func() int {
		cs, err := svc.List(ctx, CitizenCA, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}

	fixed := bytes.Repeat([]byte{0x5a}, 20)
	want := new(big.Int).SetBytes(fixed)
	src.force(fixed, 1)
	a, err := issue()
	if err != nil {
		t.Fatal(err)
	}
	if a.SerialNumber.Cmp(want) != 0 {
		t.Fatalf("serial %x, want the forced %x (the test's source is not the one drawn from)", a.SerialNumber, want)
	}

	// One collision: another serial is drawn and both certificates stand.
	src.force(fixed, 1)
	b, err := issue()
	if err != nil {
		t.Fatalf("issue after one collision: %v", err)
	}
	if b.SerialNumber.Cmp(a.SerialNumber) == 0 {
		t.Fatal("a serial number was issued twice")
	}
	if b.SerialNumber.BitLen() < 128 {
		t.Errorf("redrawn serial has %d bits", b.SerialNumber.BitLen())
	}
	for _, c := range []*x509.Certificate{a, b} {
		rec, err := svc.Lookup(ctx, c.SerialNumber)
		if err != nil || !bytes.Equal(rec.DER, c.Raw) {
			t.Fatalf("stored record of %x: %v", c.SerialNumber, err)
		}
	}
	if n := count(); n != 2 {
		t.Fatalf("%d certificates stored, want 2", n)
	}

	// Collisions every time: refused, nothing stored, the first one kept.
	src.force(fixed, 10)
	if c, err := issue(); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("issue with colliding serials = %v, %v; want ErrDuplicate", c, err)
	}
	if n := count(); n != 2 {
		t.Errorf("%d certificates stored after a refused issuance, want 2", n)
	}
	if rec, err := svc.Lookup(ctx, a.SerialNumber); err != nil || !bytes.Equal(rec.DER, a.Raw) {
		t.Errorf("first certificate changed: %v", err)
	}
}
