// Package storetest is the contract test suite that every implementation of
// Thiqa's store must pass, so that the embedded and the distributed stores
// behave the same. It is imported only by tests.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/store"
)

// Store is every method the contract covers.
type Store interface {
	InsertCertificate(ctx context.Context, c store.Certificate) error
	Certificate(ctx context.Context, serial string) (store.Certificate, error)
	Certificates(ctx context.Context, issuer string, p store.Page) ([]store.Certificate, error)
	UpdateCertificate(ctx context.Context, serial string, fn func(*store.Certificate) error) (store.Certificate, error)
	RevokedCertificates(ctx context.Context, issuer string) ([]store.Certificate, error)
	SaveCeremony(ctx context.Context, c store.Ceremony) error
	Ceremony(ctx context.Context) (store.Ceremony, error)
	IssueCRL(ctx context.Context, issuer string, build func(number int64) (store.CRL, error)) (store.CRL, error)
	LatestCRL(ctx context.Context, issuer string) (store.CRL, error)
	CertificateChanges(ctx context.Context, after uint64) ([]string, uint64, error)
}

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func cert(serial, issuer string) store.Certificate {
	return store.Certificate{Serial: serial, Issuer: issuer, Profile: "citizen-signing",
		Subject: "CN=Test", NotBefore: t0, NotAfter: t0.AddDate(2, 0, 0), IssuedAt: t0, DER: []byte{0x30, 0x00}}
}

// Run runs the contract against fresh, empty stores made by open.
func Run(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	t.Run("Certificates", func(t *testing.T) {
		s := open(t)
		if _, err := s.Certificate(ctx, "01"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Certificate(missing) = %v, want ErrNotFound", err)
		}
		for _, serial := range []string{"0c", "0a", "0b"} {
			if err := s.InsertCertificate(ctx, cert(serial, "citizen-ca")); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.InsertCertificate(ctx, cert("0d", "org-ca")); err != nil {
			t.Fatal(err)
		}
		dup := cert("0a", "org-ca")
		dup.Subject = "CN=Other"
		if err := s.InsertCertificate(ctx, dup); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("duplicate serial = %v, want ErrDuplicate", err)
		}
		got, err := s.Certificate(ctx, "0a")
		if err != nil || got.Subject != "CN=Test" || got.Status != store.StatusValid || got.Version != 1 || !got.NotBefore.Equal(t0) {
			t.Fatalf("Certificate(0a) = %+v, %v", got, err)
		}
		all, err := s.Certificates(ctx, "", store.Page{})
		if err != nil || serials(all) != "0a,0b,0c,0d" {
			t.Fatalf("Certificates() = %s, %v", serials(all), err)
		}
		page, err := s.Certificates(ctx, "citizen-ca", store.Page{After: "0a", Limit: 1})
		if err != nil || serials(page) != "0b" {
			t.Fatalf("Certificates(after 0a, 1) = %s, %v", serials(page), err)
		}
	})
	t.Run("UpdateAndRevokedIndex", func(t *testing.T) {
		s := open(t)
		for _, serial := range []string{"01", "02", "03"} {
			if err := s.InsertCertificate(ctx, cert(serial, "citizen-ca")); err != nil {
				t.Fatal(err)
			}
		}
		revoke := func(c *store.Certificate) error {
			c.Status, c.RevokedAt, c.Reason = store.StatusRevoked, t0.Add(time.Hour), 1
			return nil
		}
		got, err := s.UpdateCertificate(ctx, "02", revoke)
		if err != nil || got.Status != store.StatusRevoked || got.Version != 2 {
			t.Fatalf("revoke = %+v, %v", got, err)
		}
		if _, err := s.UpdateCertificate(ctx, "03", func(c *store.Certificate) error { c.Status = store.StatusOnHold; return nil }); err != nil {
			t.Fatal(err)
		}
		rev, err := s.RevokedCertificates(ctx, "citizen-ca")
		if err != nil || serials(rev) != "02,03" {
			t.Fatalf("RevokedCertificates = %s, %v", serials(rev), err)
		}
		if _, err := s.UpdateCertificate(ctx, "03", func(c *store.Certificate) error { c.Status = store.StatusValid; return nil }); err != nil {
			t.Fatal(err)
		}
		rev, _ = s.RevokedCertificates(ctx, "citizen-ca")
		if serials(rev) != "02" {
			t.Fatalf("after release from hold, revoked = %s, want 02", serials(rev))
		}
		refuse := errors.New("refused")
		_, err = s.UpdateCertificate(ctx, "01", func(c *store.Certificate) error { c.Status = store.StatusRevoked; return refuse })
		if !errors.Is(err, refuse) {
			t.Fatalf("update with failing fn = %v", err)
		}
		if c, _ := s.Certificate(ctx, "01"); c.Status != store.StatusValid || c.Version != 1 {
			t.Fatalf("failed update changed the record: %+v", c)
		}
		if _, err := s.UpdateCertificate(ctx, "ff", revoke); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update of missing = %v, want ErrNotFound", err)
		}
	})
	t.Run("ChangeFeed", func(t *testing.T) {
		s := open(t)
		_, start, err := s.CertificateChanges(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, serial := range []string{"01", "02"} {
			if err := s.InsertCertificate(ctx, cert(serial, "citizen-ca")); err != nil {
				t.Fatal(err)
			}
		}
		changes, pos, err := s.CertificateChanges(ctx, start)
		if err != nil || !contains(changes, "01") || !contains(changes, "02") || pos <= start {
			t.Fatalf("after inserts: %v at %d, %v", changes, pos, err)
		}
		if _, err := s.UpdateCertificate(ctx, "01", func(c *store.Certificate) error { c.Status = store.StatusRevoked; return nil }); err != nil {
			t.Fatal(err)
		}
		changes, pos2, err := s.CertificateChanges(ctx, pos)
		if err != nil || !contains(changes, "01") || pos2 <= pos {
			t.Fatalf("after revocation: %v at %d (was %d), %v", changes, pos2, pos, err)
		}
		s.UpdateCertificate(ctx, "02", func(*store.Certificate) error { return errors.New("refused") })
		// Readers may see a change again (the feed is read with overlap),
		// but a refused update adds nothing new.
		if _, pos3, _ := s.CertificateChanges(ctx, pos2); pos3 != pos2 {
			t.Fatalf("a refused update moved the change feed from %d to %d", pos2, pos3)
		}
	})
	t.Run("ConcurrentInsertsAreUnique", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := map[string]int{}
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 50 {
					serial := fmt.Sprintf("%04x", i) // every goroutine races for the same serials
					err := s.InsertCertificate(ctx, cert(serial, fmt.Sprintf("ca-%d", g)))
					if err == nil {
						mu.Lock()
						wins[serial]++
						mu.Unlock()
					} else if !errors.Is(err, store.ErrDuplicate) {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		if len(wins) != 50 {
			t.Fatalf("%d serials stored, want 50", len(wins))
		}
		for serial, n := range wins {
			if n != 1 {
				t.Errorf("serial %s inserted %d times", serial, n)
			}
		}
	})
	t.Run("Ceremony", func(t *testing.T) {
		s := open(t)
		if _, err := s.Ceremony(ctx); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Ceremony before any = %v, want ErrNotFound", err)
		}
		c := store.Ceremony{Config: []byte(`{"country":"JO"}`), CreatedAt: t0, Authorities: []store.Authority{
			{Name: "root", Role: "root-ca", KeyID: "root", CertDER: []byte{1}, CreatedAt: t0},
			{Name: "citizen-ca", Role: "issuing-ca", KeyID: "citizen-ca", Parent: "root", CertDER: []byte{2}, CreatedAt: t0},
		}}
		if err := s.SaveCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
		again := c
		again.Config = []byte(`{"country":"XX"}`)
		if err := s.SaveCeremony(ctx, again); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("second SaveCeremony = %v, want ErrDuplicate", err)
		}
		got, err := s.Ceremony(ctx)
		if err != nil || string(got.Config) != `{"country":"JO"}` || len(got.Authorities) != 2 || got.Authorities[1].Parent != "root" {
			t.Fatalf("Ceremony = %+v, %v", got, err)
		}
	})
	t.Run("CRLNumbers", func(t *testing.T) {
		s := open(t)
		if _, err := s.LatestCRL(ctx, "citizen-ca"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("LatestCRL before any = %v", err)
		}
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.IssueCRL(ctx, "citizen-ca", func(n int64) (store.CRL, error) {
					return store.CRL{ThisUpdate: t0, NextUpdate: t0.Add(time.Hour), DER: []byte{byte(n)}}, nil
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		crl, err := s.LatestCRL(ctx, "citizen-ca")
		if err != nil || crl.Number != 10 || crl.DER[0] != 10 {
			t.Fatalf("LatestCRL = %+v, %v; want number 10", crl, err)
		}
		_, err = s.IssueCRL(ctx, "citizen-ca", func(int64) (store.CRL, error) { return store.CRL{}, errors.New("sign failed") })
		if err == nil {
			t.Fatal("IssueCRL with failing build succeeded")
		}
		if crl, _ := s.LatestCRL(ctx, "citizen-ca"); crl.Number != 10 {
			t.Fatalf("failed IssueCRL changed the latest CRL to %d", crl.Number)
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func serials(cs []store.Certificate) string {
	s := ""
	for i, c := range cs {
		if i > 0 {
			s += ","
		}
		s += c.Serial
	}
	return s
}
