package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/store"
	"github.com/thiqa/thiqa/store/storetest"
)

func TestPostgresPlatformContract(t *testing.T) {
	storetest.RunPlatform(t, func(t *testing.T) storetest.PlatformStore { return openPostgres(t) })
}

// BenchmarkPostgresCatalogueImport upserts a national-size catalogue
// (2,460 services) in one transaction, half the runs changing every fee.
func BenchmarkPostgresCatalogueImport(b *testing.B) {
	s, err := store.OpenPostgres(context.Background(), pgtest.DSN(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batches := make([][]store.CatalogueService, 2)
	for v := range batches {
		for i := range 2460 {
			batches[v] = append(batches[v], store.CatalogueService{Code: fmt.Sprintf("S-%04d", i), Agency: "AG", NameAr: "خدمة", NameEn: "Service",
				FeeFils: int64(i + v), Channel: store.ChannelOnline})
		}
	}
	i := 0
	for b.Loop() {
		if _, err := s.PutCatalogueServices(context.Background(), batches[i%2], time.Now()); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
