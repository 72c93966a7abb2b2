package ca

import (
	"context"
	"crypto"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestReplicasShareRevocation runs two authorities on one PostgreSQL
// database, as two replicas would: a certificate issued on one is revoked
// on the other, and the first one's OCSP says so within a second although
// it had cached "good".
func TestReplicasShareRevocation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dsn := pgtest.DSN(t)
	kek := make([]byte, hsm.KEKSize)
	rand.Read(kek)
	keysDir := filepath.Join(t.TempDir(), "keys") // shared key custody, as an HSM would be
	open := func() (*Service, *store.Postgres) {
		keys, err := hsm.OpenSoftware(keysDir, kek, nil)
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		svc, err := Open(ctx, keys, st, Options{})
		if err == ErrNotInitialized {
			svc, err = Init(ctx, DefaultConfig(), keys, st, Options{})
		}
		if err != nil {
			t.Fatal(err)
		}
		return svc, st
	}
	a, _ := open()
	b, _ := open()
	go a.RunStatusSync(ctx, 100*time.Millisecond, func(err error) { t.Error(err) })
	go b.RunStatusSync(ctx, 100*time.Millisecond, func(err error) { t.Error(err) })

	envA := &testEnv{svc: a}
	cert := envA.issue(t, CitizenSigning)
	issuer, _ := a.AuthorityCertificate(CitizenCA)
	req := ocspRequest(t, cert, issuer, crypto.SHA1, nil)
	status := func(s *Service) int {
		der, err := s.OCSP().Respond(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ocsp.ParseResponseForCert(der, cert, issuer)
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	if status(a) != ocsp.Good || status(b) != ocsp.Good {
		t.Fatal("fresh certificate not good on both replicas")
	}
	if _, err := b.Revoke(ctx, cert.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for status(a) != ocsp.Revoked {
		if time.Since(start) > time.Second {
			t.Fatal("replica A still answers good a second after B revoked")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("revocation on B seen by A's OCSP after %v", time.Since(start))
	crl, err := a.CRL(ctx, CitizenCA)
	if err != nil {
		t.Fatal(err)
	}
	rl, _ := parseCRL(crl.DER)
	if _, ok := crlHas(rl, cert.SerialNumber); !ok {
		t.Error("replica A serves a CRL without B's revocation")
	}
}
