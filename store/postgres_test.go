package store_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/store"
	"github.com/thiqa/thiqa/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openPostgres(t *testing.T) *store.Postgres {
	t.Helper()
	s, err := store.OpenPostgres(context.Background(), pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openPostgres(t) })
}

// TestPostgresMigrationsRace opens the same empty database from several
// "replicas" at once: the advisory lock lets exactly one apply each
// migration.
func TestPostgresMigrationsRace(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := store.OpenPostgres(context.Background(), dsn)
			if err != nil {
				t.Error(err)
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
}
