package store_test

import (
	"path/filepath"
	"testing"

	"github.com/thiqa/thiqa/store"
	"github.com/thiqa/thiqa/store/storetest"
)

func TestBoltOIDCStateContract(t *testing.T) {
	storetest.RunOIDC(t, func(t *testing.T) storetest.OIDCStore {
		s, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
