package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/store"
)

// TestPostgresOIDCClients checks the OpenID provider's records on
// PostgreSQL as store.TestOIDCClients does on bbolt, and that two replicas
// share one deployment secret.
func TestPostgresOIDCClients(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	open := func() *store.Postgres {
		s, err := store.OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := open()
	c := store.OIDCClient{ID: "rp-1", NameAr: "وزارة", NameEn: "Ministry", RedirectURIs: []string{"https://a.example/cb"}, Sector: "rp-1",
		Created: time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)}
	tests := []struct {
		name string
		run  func() error
		ok   bool
	}{
		{"unknown before any", func() error { _, err := s.OIDCClient(ctx, "rp-1"); return err }, false},
		{"put", func() error { return s.PutOIDCClient(ctx, c) }, true},
		{"put again refused", func() error { return s.PutOIDCClient(ctx, c) }, false},
		{"get", func() error {
			got, err := s.OIDCClient(ctx, "rp-1")
			if err == nil && (got.NameAr != c.NameAr || got.RedirectURIs[0] != c.RedirectURIs[0] || !got.Created.Equal(c.Created)) {
				t.Errorf("got %+v", got)
			}
			return err
		}, true},
		{"unknown", func() error {
			_, err := s.OIDCClient(ctx, "rp-2")
			if !errors.Is(err, store.ErrOIDCClientNotFound) {
				t.Errorf("error %v", err)
			}
			return err
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); (err == nil) != tt.ok {
				t.Fatalf("error %v, want ok=%v", err, tt.ok)
			}
		})
	}
	s1, err := s.OIDCSecret(ctx)
	if err != nil || len(s1) != 32 {
		t.Fatalf("secret %x, %v", s1, err)
	}
	s2, err := open().OIDCSecret(ctx)
	if err != nil || !bytes.Equal(s1, s2) {
		t.Fatalf("the other replica's secret differs: %x %x %v", s1, s2, err)
	}
}
