package store_test

import (
	"path/filepath"
	"testing"

	"github.com/thiqa/thiqa/store"
	"github.com/thiqa/thiqa/store/storetest"
)

func TestBoltSigningContract(t *testing.T) {
	storetest.RunSigning(t, func(t *testing.T) storetest.SigningStore {
		s, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestBoltRateLimits(t *testing.T) {
	storetest.RunRateLimits(t, func(t *testing.T) storetest.RateLimitStore {
		s, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
