package store_test

import (
	"path/filepath"
	"testing"

	"github.com/thiqa/thiqa/store"
	"github.com/thiqa/thiqa/store/storetest"
)

func TestBoltPlatformContract(t *testing.T) {
	storetest.RunPlatform(t, func(t *testing.T) storetest.PlatformStore {
		s, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
