package ca

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/store"
)

func (env *testEnv) issue(t testing.TB, p Profile) *x509.Certificate {
	t.Helper()
	s := citizen()
	if p == ESeal {
		s = eseal()
	}
	c, err := env.svc.Issue(context.Background(), Request{Profile: p, PublicKey: ecKey(t, elliptic.P256()).Public(), Subject: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (env *testEnv) crl(t *testing.T, name string) *x509.RevocationList {
	t.Helper()
	c, err := env.store.LatestCRL(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := x509.ParseRevocationList(c.DER)
	if err != nil {
		t.Fatal(err)
	}
	issuer, _ := env.svc.AuthorityCertificate(name)
	if err := rl.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("CRL of %s: %v", name, err)
	}
	return rl
}

func crlHas(rl *x509.RevocationList, serial *big.Int) (x509.RevocationListEntry, bool) {
	for _, e := range rl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return e, true
		}
	}
	return x509.RevocationListEntry{}, false
}

func TestRevocationLifecycle(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	a := env.issue(t, CitizenSigning)
	b := env.issue(t, CitizenSigning)
	seal := env.issue(t, ESeal)
	before := env.crl(t, CitizenCA)

	rec, err := env.svc.Revoke(ctx, a.SerialNumber, ReasonKeyCompromise)
	if err != nil || rec.Status != store.StatusRevoked || rec.Reason != 1 || !rec.RevokedAt.Equal(testNow) {
		t.Fatalf("Revoke = %+v, %v", rec, err)
	}
	after := env.crl(t, CitizenCA)
	if after.Number.Cmp(before.Number) <= 0 {
		t.Errorf("CRL number %v did not increase from %v", after.Number, before.Number)
	}
	if e, ok := crlHas(after, a.SerialNumber); !ok || e.ReasonCode != 1 || !e.RevocationTime.Equal(testNow) {
		t.Errorf("CRL entry for revoked certificate = %+v, %v", e, ok)
	}
	if _, ok := crlHas(after, b.SerialNumber); ok {
		t.Error("valid certificate on the CRL")
	}
	if !after.NextUpdate.After(after.ThisUpdate) {
		t.Error("CRL has no sensible nextUpdate")
	}

	t.Run("RevokeAgainRefused", func(t *testing.T) {
		n := env.crl(t, CitizenCA).Number
		for _, r := range []Reason{ReasonKeyCompromise, ReasonCertificateHold, ReasonSuperseded} {
			if _, err := env.svc.Revoke(ctx, a.SerialNumber, r); !errors.Is(err, ErrAlreadyRevoked) {
				t.Errorf("Revoke(%s) of revoked = %v, want ErrAlreadyRevoked", r, err)
			}
		}
		if _, err := env.svc.Release(ctx, a.SerialNumber); !errors.Is(err, ErrNotOnHold) {
			t.Errorf("Release of revoked = %v, want ErrNotOnHold", err)
		}
		if rec, _ := env.svc.Lookup(ctx, a.SerialNumber); rec.Version != 2 || rec.Reason != 1 {
			t.Errorf("refused operations changed the record: %+v", rec)
		}
		if got := env.crl(t, CitizenCA).Number; got.Cmp(n) != 0 {
			t.Errorf("refused operations issued a CRL (%v -> %v)", n, got)
		}
	})
	t.Run("HoldAndRelease", func(t *testing.T) {
		if _, err := env.svc.Revoke(ctx, b.SerialNumber, ReasonCertificateHold); err != nil {
			t.Fatal(err)
		}
		if e, ok := crlHas(env.crl(t, CitizenCA), b.SerialNumber); !ok || e.ReasonCode != 6 {
			t.Fatalf("held certificate not on CRL with certificateHold: %+v %v", e, ok)
		}
		if _, err := env.svc.Revoke(ctx, b.SerialNumber, ReasonCertificateHold); !errors.Is(err, ErrBadReason) {
			t.Errorf("hold of held = %v, want ErrBadReason", err)
		}
		rec, err := env.svc.Release(ctx, b.SerialNumber)
		if err != nil || rec.Status != store.StatusValid {
			t.Fatalf("Release = %+v, %v", rec, err)
		}
		if _, ok := crlHas(env.crl(t, CitizenCA), b.SerialNumber); ok {
			t.Error("released certificate still on CRL")
		}
		if _, err := env.svc.Release(ctx, b.SerialNumber); !errors.Is(err, ErrNotOnHold) {
			t.Errorf("Release of valid = %v, want ErrNotOnHold", err)
		}
		// Hold, then revoke for good.
		env.svc.Revoke(ctx, b.SerialNumber, ReasonCertificateHold)
		if rec, err := env.svc.Revoke(ctx, b.SerialNumber, ReasonPrivilegeWithdrawn); err != nil || rec.Status != store.StatusRevoked {
			t.Fatalf("revoke of held = %+v, %v", rec, err)
		}
	})
	t.Run("OtherCAUntouched", func(t *testing.T) {
		if _, ok := crlHas(env.crl(t, OrgCA), seal.SerialNumber); ok {
			t.Error("e-seal on org CA CRL")
		}
		if _, err := env.svc.Revoke(ctx, seal.SerialNumber, ReasonCessationOfOperation); err != nil {
			t.Fatal(err)
		}
		if _, ok := crlHas(env.crl(t, OrgCA), seal.SerialNumber); !ok {
			t.Error("revoked e-seal missing from org CA CRL")
		}
		if _, ok := crlHas(env.crl(t, CitizenCA), seal.SerialNumber); ok {
			t.Error("e-seal on citizen CA CRL")
		}
	})
	t.Run("Unknown", func(t *testing.T) {
		if _, err := env.svc.Revoke(ctx, big.NewInt(12345), ReasonKeyCompromise); !errors.Is(err, ErrNotFound) {
			t.Errorf("Revoke(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := env.svc.Revoke(ctx, a.SerialNumber, Reason(7)); !errors.Is(err, ErrBadReason) {
			t.Errorf("Revoke(reason 7) = %v, want ErrBadReason", err)
		}
		if _, err := ParseReason("removeFromCRL"); !errors.Is(err, ErrBadReason) {
			t.Errorf("ParseReason(removeFromCRL) = %v", err)
		}
		if r, err := ParseReason("KEYCOMPROMISE"); err != nil || r != ReasonKeyCompromise {
			t.Errorf("ParseReason(KEYCOMPROMISE) = %v, %v", r, err)
		}
	})
}

func TestCRLFreshness(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	first, err := env.svc.CRL(ctx, CitizenCA)
	if err != nil {
		t.Fatal(err)
	}
	*env.now = testNow.Add(time.Hour)
	same, _ := env.svc.CRL(ctx, CitizenCA)
	if same.Number != first.Number {
		t.Errorf("CRL reissued after an hour of a 24-hour validity")
	}
	*env.now = testNow.Add(13 * time.Hour)
	fresh, _ := env.svc.CRL(ctx, CitizenCA)
	if fresh.Number <= first.Number || !fresh.ThisUpdate.Equal(testNow.Add(13*time.Hour)) {
		t.Errorf("CRL past half its validity not reissued: %d at %v", fresh.Number, fresh.ThisUpdate)
	}
	if _, err := env.svc.CRL(ctx, "tsu"); !errors.Is(err, ErrNotFound) {
		t.Errorf("CRL(tsu) = %v, want ErrNotFound", err)
	}
}

func TestConcurrentRevocationsCoalesce(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	var certs []*x509.Certificate
	for range 20 {
		certs = append(certs, env.issue(t, CitizenAuth))
	}
	start := env.crl(t, CitizenCA).Number.Int64()
	var wg sync.WaitGroup
	for _, c := range certs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := env.svc.Revoke(ctx, c.SerialNumber, ReasonSuperseded); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	rl := env.crl(t, CitizenCA)
	if len(rl.RevokedCertificateEntries) != 20 {
		t.Fatalf("CRL lists %d certificates, want 20", len(rl.RevokedCertificateEntries))
	}
	t.Logf("20 concurrent revocations issued %d CRLs", rl.Number.Int64()-start)
}

func parseCRL(der []byte) (*x509.RevocationList, error) { return x509.ParseRevocationList(der) }
