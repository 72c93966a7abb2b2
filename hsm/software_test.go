package hsm_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/hsm/hsmtest"
)

func newKEK(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, hsm.KEKSize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSoftwareContract(t *testing.T) {
	hsmtest.Run(t, func(t *testing.T) hsm.Custody {
		s, err := hsm.OpenSoftware(t.TempDir(), newKEK(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestSoftwareAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kek := newKEK(t)
	s, err := hsm.OpenSoftware(dir, kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.GenerateKey(ctx, "citizen-ca", hsm.ECDSAP384)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "citizen-ca.key")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(file)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", st.Mode().Perm())
	}
	if bytes.Contains(raw, []byte("PRIVATE KEY")) || bytes.Contains(raw, []byte{0x30, 0x81}) {
		t.Error("key file looks like a clear private key")
	}

	t.Run("ReopenWithSameKEK", func(t *testing.T) {
		s2, err := hsm.OpenSoftware(dir, kek, nil)
		if err != nil {
			t.Fatal(err)
		}
		k2, err := s2.Key(ctx, "citizen-ca")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pubDER(t, k2), pubDER(t, k)) {
			t.Fatal("reopened key differs")
		}
	})
	t.Run("WrongKEK", func(t *testing.T) {
		s3, err := hsm.OpenSoftware(dir, newKEK(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s3.Key(ctx, "citizen-ca"); !errors.Is(err, hsm.ErrBadKEK) {
			t.Fatalf("Key with wrong KEK = %v, want ErrBadKEK", err)
		}
	})
	t.Run("SwappedFileRefused", func(t *testing.T) {
		// A sealed key copied under another name must not open: the
		// identifier is authenticated data.
		if err := os.WriteFile(filepath.Join(dir, "org-ca.key"), raw, 0o600); err != nil {
			t.Fatal(err)
		}
		s4, _ := hsm.OpenSoftware(dir, kek, nil)
		if _, err := s4.Key(ctx, "org-ca"); err == nil {
			t.Fatal("key copied under another identifier opened")
		}
	})
	t.Run("ShortKEK", func(t *testing.T) {
		if _, err := hsm.OpenSoftware(dir, kek[:16], nil); !errors.Is(err, hsm.ErrBadKEK) {
			t.Fatalf("OpenSoftware(16-byte KEK) = %v, want ErrBadKEK", err)
		}
	})
}

func pubDER(t *testing.T, k hsm.Key) []byte {
	t.Helper()
	b, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadKEK(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "kek")
	if _, _, err := hsm.LoadKEK(path, "", false); err == nil {
		t.Fatal("LoadKEK without create on a missing file succeeded")
	}
	k1, created, err := hsm.LoadKEK(path, "", true)
	if err != nil || !created || len(k1) != hsm.KEKSize {
		t.Fatalf("LoadKEK(create) = %d bytes, %v, %v", len(k1), created, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("KEK file mode = %v (%v), want 0600", st.Mode().Perm(), err)
	}
	k2, created, err := hsm.LoadKEK(path, "", true)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second LoadKEK = created %v, err %v, same %v", created, err, bytes.Equal(k1, k2))
	}
	env := base64.StdEncoding.EncodeToString(k1)
	k3, _, err := hsm.LoadKEK("/nonexistent", env, false)
	if err != nil || !bytes.Equal(k1, k3) {
		t.Fatalf("LoadKEK from env = %v", err)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString(k1[:20])} {
		if _, _, err := hsm.LoadKEK("", bad, false); !errors.Is(err, hsm.ErrBadKEK) {
			t.Errorf("LoadKEK(%q) = %v, want ErrBadKEK", bad, err)
		}
	}
}
