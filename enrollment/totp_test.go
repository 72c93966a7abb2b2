package enrollment

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// officerRecord reads an officer as stored.
func officerRecord(t *testing.T, st Store, user string) store.Officer {
	t.Helper()
	var o store.Officer
	err := st.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) {
		o, err = tx.Officer(user)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestTOTPSealedBolt: an officer's TOTP secret is sealed by key custody;
// the bbolt file holds it nowhere in clear, and the officer signs in.
func TestTOTPSealedBolt(t *testing.T) {
	e := newEnv(t)
	e.centre(t, "AMM-1")
	e.officer(t, "amal", "officer", "AMM-1")
	secret := e.totp["amal"]
	o := officerRecord(t, e.st, "amal")
	if o.TOTPSecret != "" || len(o.TOTPSealed) == 0 {
		t.Fatalf("officer record: secret %q, sealed %d bytes; want sealed only", o.TOTPSecret, len(o.TOTPSealed))
	}
	path := e.st.DB().Path()
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) || bytes.Contains(bytes.ToLower(raw), []byte(strings.ToLower(secret[:16]))) {
		t.Fatal("the bbolt file holds the TOTP secret in clear")
	}
}

// TestTOTPSealedBoundToOfficer: a sealed secret copied onto another
// officer's record does not open, and nothing is signed in.
func TestTOTPSealedBoundToOfficer(t *testing.T) {
	e := newEnv(t)
	e.centre(t, "AMM-1")
	e.officer(t, "amal", "officer", "AMM-1")
	e.officer(t, "omar", "officer", "AMM-1")
	amal := officerRecord(t, e.st, "amal")
	err := e.st.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
		o, err := tx.Officer("omar")
		if err != nil {
			return err
		}
		o.TOTPSealed = amal.TOTPSealed
		return tx.PutOfficer(o)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.advance(time.Minute)
	if _, _, err := e.svc.OfficerSignIn(ctx, "omar", password, e.code(t, "amal")); err == nil {
		t.Fatal("a TOTP secret moved to another officer opened")
	}
}

// TestTOTPPlaintextSealedAtSignIn: an account made before secrets were
// sealed signs in with its clear secret, which the sign-in then seals.
func TestTOTPPlaintextSealedAtSignIn(t *testing.T) {
	e := newEnv(t)
	e.centre(t, "AMM-1")
	plain, err := New(e.st, e.keys, e.ca, Options{Clock: func() time.Time { return *e.now }, Argon2: fastArgon})
	if err != nil {
		t.Fatal(err)
	}
	sealing := e.svc
	e.svc = plain
	e.officer(t, "amal", "officer", "AMM-1")
	if o := officerRecord(t, e.st, "amal"); o.TOTPSecret != e.totp["amal"] || o.TOTPSealed != nil {
		t.Fatal("without a sealer the secret is not kept in clear")
	}
	e.svc = sealing
	e.advance(time.Minute)
	if _, _, err := e.svc.OfficerSignIn(ctx, "amal", password, e.code(t, "amal")); err != nil {
		t.Fatalf("sign-in with a clear secret: %v", err)
	}
	o := officerRecord(t, e.st, "amal")
	if o.TOTPSecret != "" || len(o.TOTPSealed) == 0 {
		t.Fatal("the clear secret was not sealed at sign-in")
	}
	e.advance(time.Minute)
	if _, _, err := e.svc.OfficerSignIn(ctx, "amal", password, e.code(t, "amal")); err != nil {
		t.Fatalf("sign-in after sealing: %v", err)
	}
}

// TestTOTPSealedPostgres: the PostgreSQL row of an officer holds the
// secret sealed, nowhere in clear, and the officer signs in.
func TestTOTPSealedPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	pg, err := store.OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	e := newEnv(t)
	e.svc, err = New(pg, e.keys, e.ca, Options{Clock: func() time.Time { return *e.now }, Argon2: fastArgon, Sealer: e.keys})
	if err != nil {
		t.Fatal(err)
	}
	e.centre(t, "AMM-1")
	e.officer(t, "amal", "officer", "AMM-1")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var row string
	if err := conn.QueryRow(ctx, "SELECT doc::text FROM enr_officers WHERE username = 'amal'").Scan(&row); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row, e.totp["amal"]) || !strings.Contains(row, `"totp_sealed"`) {
		t.Fatalf("officer row holds the TOTP secret in clear or not sealed: %s", row)
	}
}

// TestSealTOTPSecrets: the sweep at start seals the clear secrets of
// officers who have not signed in since, and they still sign in.
func TestSealTOTPSecrets(t *testing.T) {
	e := newEnv(t)
	e.centre(t, "AMM-1")
	plain, err := New(e.st, e.keys, e.ca, Options{Clock: func() time.Time { return *e.now }, Argon2: fastArgon})
	if err != nil {
		t.Fatal(err)
	}
	sealing := e.svc
	e.svc = plain
	for _, u := range []string{"amal", "omar", "zaid"} {
		e.officer(t, u, "officer", "AMM-1")
	}
	e.svc = sealing
	if n, err := plain.SealTOTPSecrets(ctx); err != nil || n != 0 {
		t.Fatalf("without a sealer: %d, %v", n, err)
	}
	if n, err := e.svc.SealTOTPSecrets(ctx); err != nil || n != 3 {
		t.Fatalf("SealTOTPSecrets = %d, %v; want 3", n, err)
	}
	for _, u := range []string{"amal", "omar", "zaid"} {
		if o := officerRecord(t, e.st, u); o.TOTPSecret != "" || len(o.TOTPSealed) == 0 {
			t.Fatalf("%s not sealed", u)
		}
	}
	if n, _ := e.svc.SealTOTPSecrets(ctx); n != 0 {
		t.Fatalf("a second sweep sealed %d", n)
	}
	e.advance(time.Minute)
	if _, _, err := e.svc.OfficerSignIn(ctx, "zaid", password, e.code(t, "zaid")); err != nil {
		t.Fatalf("sign-in after the sweep: %v", err)
	}
}
