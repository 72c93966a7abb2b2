package enrollment

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	bolt "go.etcd.io/bbolt"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/store"
)

// testNow is the pinned start of the tests' clock.
var testNow = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

var ctx = context.Background()

type env struct {
	svc  *Service
	st   *store.Bolt
	ca   *ca.Service
	keys *hsm.Software
	now  *time.Time
	rp   virtualwebauthn.RelyingParty
	// secrets of the officers created by officer(), by username
	totp map[string]string
}

// fastArgon keeps password hashing cheap in tests.
var fastArgon = Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	kek := make([]byte, hsm.KEKSize)
	rand.Read(kek)
	keys, err := hsm.OpenSoftware(filepath.Join(dir, "keys"), kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenBolt(filepath.Join(dir, "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{st: st, keys: keys, totp: map[string]string{}}
	now := testNow
	e.now = &now
	clock := func() time.Time { return *e.now }
	e.ca, err = ca.Init(ctx, ca.DefaultConfig(), keys, st, ca.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	e.rp = virtualwebauthn.RelyingParty{ID: "localhost", Name: "Thiqa", Origin: "http://localhost:8080"}
	e.svc, err = New(st, keys, e.ca, Options{Clock: clock, Argon2: fastArgon, Sealer: keys})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) advance(d time.Duration) { *e.now = e.now.Add(d) }

const password = "correct horse battery"

// centre creates a centre.
func (e *env) centre(t testing.TB, code string) {
	t.Helper()
	_, err := e.svc.CreateCentre(ctx, Operator("test"), store.Centre{Code: code, NameAr: "مركز", NameEn: "Centre " + code, Governorate: "Amman"})
	if err != nil {
		t.Fatal(err)
	}
}

// officer creates an officer and signs them in.
func (e *env) officer(t testing.TB, user, role, centre string) Principal {
	t.Helper()
	enr, err := e.svc.CreateOfficer(ctx, Operator("test"), NewOfficer{Username: user, Role: role, Centre: centre, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(enr.TOTPURL)
	if err != nil {
		t.Fatal(err)
	}
	e.totp[user] = u.Query().Get("secret")
	_, p, err := e.svc.OfficerSignIn(ctx, user, password, e.code(t, user))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// code is the officer's current TOTP code.
func (e *env) code(t testing.TB, user string) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(e.totp[user], *e.now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func layla(nid string) Proofing {
	return Proofing{NationalID: nid, GivenName: "Layla", Surname: "Haddad", GivenNameAr: "ليلى", SurnameAr: "حداد",
		DateOfBirth: "1990-04-12", DocType: "national-id-card", DocNumber: "ab123456", DocExpiry: "2030-01-01",
		DocCheck: "pass", FaceMatch: "pass"}
}

// phone is a citizen's phone: a virtual authenticator with one passkey.
type phone struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

// register answers a registration challenge with a new passkey.
func (e *env) register(t testing.TB, ch Challenge, opts virtualwebauthn.AuthenticatorOptions, rp virtualwebauthn.RelyingParty) (*phone, []byte) {
	t.Helper()
	ao, err := virtualwebauthn.ParseAttestationOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	opts.UserHandle = []byte(ao.UserID)
	p := &phone{auth: virtualwebauthn.NewAuthenticatorWithOptions(opts), cred: newCredential()}
	resp := virtualwebauthn.CreateAttestationResponse(rp, p.auth, p.cred, *ao)
	p.auth.AddCredential(p.cred)
	return p, []byte(resp)
}

// activate redeems a code and registers a passkey.
func (e *env) activate(t testing.TB, nid, code string) (*phone, Activation) {
	t.Helper()
	ch, err := e.svc.BeginActivation(ctx, nid, code)
	if err != nil {
		t.Fatal(err)
	}
	p, resp := e.register(t, ch, virtualwebauthn.AuthenticatorOptions{BackupEligible: true, BackupState: true}, e.rp)
	act, err := e.svc.FinishActivation(ctx, ch.CeremonyID, "my phone", resp)
	if err != nil {
		t.Fatal(err)
	}
	return p, act
}

// assert answers a sign-in challenge, counting up the sign counter.
func (e *env) assert(t testing.TB, p *phone, ch Challenge, rp virtualwebauthn.RelyingParty) []byte {
	t.Helper()
	ao, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	p.cred.Counter++
	return []byte(virtualwebauthn.CreateAssertionResponse(rp, p.auth, p.cred, *ao))
}

// signIn signs a phone in.
func (e *env) signIn(t testing.TB, p *phone) (SessionToken, Principal, error) {
	t.Helper()
	ch, err := e.svc.BeginSignIn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return e.svc.FinishSignIn(ctx, ch.CeremonyID, e.assert(t, p, ch, e.rp))
}

// enrolled makes centre AMM-01 with officer "omar", enrols and activates
// Layla.
func (e *env) enrolled(t testing.TB, nid string) (Principal, *phone, Activation) {
	t.Helper()
	e.centre(t, "AMM-01")
	off := e.officer(t, "omar", store.RoleOfficer, "AMM-01")
	enr, err := e.svc.Enrol(ctx, off, layla(nid))
	if err != nil {
		t.Fatal(err)
	}
	p, act := e.activate(t, nid, enr.Code.Code)
	return off, p, act
}

// snapshot digests every enrollment record but the event trail, to check
// that a refusal changed nothing.
func (e *env) snapshot(t testing.TB) string {
	t.Helper()
	h := sha256.New()
	err := e.st.DB().View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if !bytes.HasPrefix(name, []byte("enr_")) || string(name) == "enr_events" {
				return nil
			}
			h.Write(name)
			return b.ForEach(func(k, v []byte) error {
				h.Write(k)
				h.Write(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (e *env) identity(t testing.TB, nid string) store.Identity {
	t.Helper()
	var id store.Identity
	err := e.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) {
		id, err = tx.Identity(nid)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	if err != nil && err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] {
		t.Errorf("error message %q starts with a capital", err)
	}
}

// newCredential makes a virtual passkey. virtualwebauthn encodes the EC
// point's coordinates without their leading zeros, which the WebAuthn
// library rightly refuses; keys whose coordinates are full length are
// drawn instead.
func newCredential() virtualwebauthn.Credential {
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		if len(k.X.Bytes()) != 32 || len(k.Y.Bytes()) != 32 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			panic(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}
