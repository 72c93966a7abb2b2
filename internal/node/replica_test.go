package node

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/ocsp"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/hsm/pkcs11/softhsmtest"
	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/oidc"
	"github.com/thiqa/thiqa/store"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	softhsmtest.Cleanup()
	os.Exit(code)
}

// openReplicas opens two nodes on one PostgreSQL database, as two `thiqa
// serve --store postgres://…` replicas would: the first runs the key
// ceremony, the second gets a copy of its key custody (an HSM cluster in a
// deployment) and its own data directory.
func openReplicas(t *testing.T) (a, b *Node) {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	dirA := filepath.Join(t.TempDir(), "a")
	a, _, err := Open(ctx, Options{Dir: dirA, Create: true, CA: ca.DefaultConfig(), Store: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if _, ok := a.Store.(*store.Postgres); !ok {
		t.Fatalf("node store is %T, want *store.Postgres", a.Store)
	}
	dirB := filepath.Join(t.TempDir(), "b")
	if err := os.CopyFS(dirB, os.DirFS(dirA)); err != nil {
		t.Fatal(err)
	}
	b, created, err := Open(ctx, Options{Dir: dirB, Store: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if created.Ceremony {
		t.Fatal("second replica ran a key ceremony of its own")
	}
	return a, b
}

// TestReplicasOnePostgres: an officer created on one replica signs in on
// the other, whose session the first accepts; a certificate revoked on one
// is reported revoked by the other's OCSP endpoint within a second; both
// append to one audit log.
func TestReplicasOnePostgres(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := openReplicas(t)

	t.Run("officer session across replicas", func(t *testing.T) {
		op := enrollment.Principal{Kind: enrollment.KindOperator, Username: "root"}
		if _, err := a.Enrollment.CreateCentre(ctx, op, store.Centre{Code: "AMM-01", NameAr: "عمّان", NameEn: "Amman", Governorate: "Amman"}); err != nil {
			t.Fatal(err)
		}
		cs, err := b.Enrollment.Centres(ctx)
		if err != nil || len(cs) != 1 || cs[0].Code != "AMM-01" {
			t.Fatalf("replica B centres = %+v, %v", cs, err)
		}
		enr, err := a.Enrollment.CreateOfficer(ctx, op, enrollment.NewOfficer{Username: "lina", Role: store.RoleOfficer, Centre: "AMM-01", Password: "correct horse battery staple"})
		if err != nil {
			t.Fatal(err)
		}
		key, err := otp.NewKeyFromURL(enr.TOTPURL)
		if err != nil {
			t.Fatal(err)
		}
		code, err := totp.GenerateCodeCustom(key.Secret(), time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := b.Enrollment.OfficerSignIn(ctx, "lina", "correct horse battery staple", code)
		if err != nil {
			t.Fatal(err)
		}
		p, err := a.Enrollment.Authenticate(ctx, tok.Token)
		if err != nil || p.Username != "lina" {
			t.Fatalf("replica A Authenticate = %+v, %v", p, err)
		}
		// The TOTP code is single use across replicas too.
		if _, _, err := a.Enrollment.OfficerSignIn(ctx, "lina", "correct horse battery staple", code); err == nil {
			t.Fatal("a TOTP code accepted twice, once on each replica")
		}
		if err := a.Enrollment.SignOut(ctx, tok.Token); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Enrollment.Authenticate(ctx, tok.Token); err == nil {
			t.Fatal("replica B accepts a session signed out on A")
		}
	})

	t.Run("revocation seen by the other OCSP", func(t *testing.T) {
		go a.CA.RunStatusSync(ctx, 100*time.Millisecond, func(err error) { t.Error(err) })
		srvA := httptest.NewServer(a.Handler())
		defer srvA.Close()
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		cert, err := a.CA.Issue(ctx, ca.Request{Profile: ca.CitizenAuth, PublicKey: key.Public(), Subject: ca.Subject{
			NationalID: "9861234567", GivenName: "Sara", Surname: "Nasser", GivenNameAr: "سارة", SurnameAr: "ناصر"}})
		if err != nil {
			t.Fatal(err)
		}
		issuer, _ := a.CA.AuthorityCertificate(ca.CitizenCA)
		req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
		if err != nil {
			t.Fatal(err)
		}
		status := func() int {
			t.Helper()
			resp, err := http.Post(srvA.URL+ca.OCSPPath, "application/ocsp-request", bytes.NewReader(req))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			r, err := ocsp.ParseResponseForCert(body, cert, issuer)
			if err != nil {
				t.Fatalf("OCSP response of A: %v", err)
			}
			return r.Status
		}
		if status() != ocsp.Good {
			t.Fatal("fresh certificate not good")
		}
		if _, err := b.CA.Revoke(ctx, cert.SerialNumber, ca.ReasonKeyCompromise); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for status() != ocsp.Revoked {
			if time.Since(start) > time.Second {
				t.Fatal("replica A's OCSP still answers good a second after B revoked")
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("revocation on B seen by A's OCSP after %v", time.Since(start))
	})

	t.Run("one audit log", func(t *testing.T) {
		ha, err := a.Store.AuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		hb, err := b.Store.AuditHead(ctx)
		if err != nil || hb.Size != ha.Size || ha.Size == 0 {
			t.Fatalf("audit heads: A %d, B %d (%v)", ha.Size, hb.Size, err)
		}
	})
}

// TestPostgresServesEveryService: a node on PostgreSQL serves the same
// services as one on the embedded store, the OpenID provider included
// (its flow state is in the store: TestReplicasOIDC).
func TestPostgresServesEveryService(t *testing.T) {
	a, b := openReplicas(t)
	for _, n := range []*Node{a, b} {
		if n.CA == nil || n.Audit == nil || n.Enrollment == nil || n.Signing == nil || n.OIDC == nil {
			t.Fatalf("node on PostgreSQL without a service: %+v", n)
		}
	}
	if _, ok := a.Store.(oidc.Registry); !ok {
		t.Fatal("the PostgreSQL store cannot register relying parties")
	}
}
