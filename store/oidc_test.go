package store

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestOIDCClients(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "thiqa.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	c := OIDCClient{ID: "rp-1", NameAr: "وزارة", NameEn: "Ministry", RedirectURIs: []string{"https://a.example/cb"}, Sector: "rp-1",
		Created: time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)}
	tests := []struct {
		name string
		run  func() error
		ok   bool
	}{
		{"unknown before any", func() error { _, err := b.OIDCClient(ctx, "rp-1"); return err }, false},
		{"put", func() error { return b.PutOIDCClient(ctx, c) }, true},
		{"put again refused", func() error { return b.PutOIDCClient(ctx, c) }, false},
		{"get", func() error {
			got, err := b.OIDCClient(ctx, "rp-1")
			if err == nil && (got.NameAr != c.NameAr || got.RedirectURIs[0] != c.RedirectURIs[0]) {
				t.Errorf("got %+v", got)
			}
			return err
		}, true},
		{"unknown", func() error {
			_, err := b.OIDCClient(ctx, "rp-2")
			if !errors.Is(err, ErrOIDCClientNotFound) {
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
	s1, err := b.OIDCSecret(ctx)
	if err != nil || len(s1) != 32 {
		t.Fatalf("secret %x, %v", s1, err)
	}
	b.Close()
	if b, err = OpenBolt(path); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s2, err := b.OIDCSecret(ctx)
	if err != nil || !bytes.Equal(s1, s2) {
		t.Fatalf("secret changed on reopen: %x %x %v", s1, s2, err)
	}
}
