// Package testenv sets up, for tests of several packages, what many of them
// need the same way: software key custody, a throwaway bbolt store and a CA
// on them, officers signed in with their TOTP codes, and citizens enrolled
// and activated in process with full-length virtual passkeys, as the
// citizen's app would; and the thiqa binary built, with `thiqa
// sandbox-gateway` run as its own process.
//
// It is imported only from _test.go files. It must not import internal/node,
// api, web or platform packages, whose tests use it; it uses the trust core
// (ca, hsm, store, enrollment) only through their public Go API.
package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/store"
)

// RP is the relying party the virtual passkeys answer: a node's default.
var RP = virtualwebauthn.RelyingParty{ID: "localhost", Name: "Thiqa", Origin: "http://localhost:8080"}

// Keys opens software key custody under a new temporary folder with a
// random KEK.
func Keys(t testing.TB) *hsm.Software {
	t.Helper()
	kek := make([]byte, hsm.KEKSize)
	rand.Read(kek)
	keys, err := hsm.OpenSoftware(filepath.Join(t.TempDir(), "keys"), kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// Bolt opens a bbolt store in a new temporary folder, closed when the test
// ends.
func Bolt(t testing.TB) *store.Bolt {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// CA runs the key ceremony of ca.DefaultConfig on keys and st.
func CA(t testing.TB, keys hsm.Custody, st ca.Store, opts ca.Options) *ca.Service {
	t.Helper()
	authority, err := ca.Init(context.Background(), ca.DefaultConfig(), keys, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return authority
}

// Passkey makes a virtual passkey whose EC point coordinates are full
// length: virtualwebauthn drops their leading zeros, which the WebAuthn
// library rightly refuses, so a plain draw fails about one time in 128.
func Passkey(t testing.TB) virtualwebauthn.Credential {
	t.Helper()
	for range 1000 {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.X.Bytes()) != 32 || len(k.Y.Bytes()) != 32 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
	t.Fatal("no full-length P-256 key in 1000 draws")
	return virtualwebauthn.Credential{}
}

// Officer creates an officer of role at centre with password, as the
// operator root, and signs them in with the TOTP code of at.
func Officer(t testing.TB, svc *enrollment.Service, user, role, centre, password string, at time.Time) enrollment.Principal {
	t.Helper()
	ctx := context.Background()
	enr, err := svc.CreateOfficer(ctx, enrollment.Operator("root"), enrollment.NewOfficer{Username: user, Role: role, Centre: centre, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	k, err := otp.NewKeyFromURL(enr.TOTPURL)
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(k.Secret(), at)
	if err != nil {
		t.Fatal(err)
	}
	_, p, err := svc.OfficerSignIn(ctx, user, password, code)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Proofing is the identity proofing of a citizen, Layla Haddad, under nid,
// with every check passed.
func Proofing(nid string) enrollment.Proofing {
	return enrollment.Proofing{NationalID: nid, GivenName: "Layla", Surname: "Haddad",
		GivenNameAr: "ليلى", SurnameAr: "حداد", DateOfBirth: "1990-04-12", DocType: "national-id-card", DocNumber: "ab123456",
		DocExpiry: "2035-01-01", DocCheck: "pass", FaceMatch: "pass"}
}

// Phone is a citizen's phone holding their virtual passkey.
type Phone struct {
	NationalID string
	Auth       virtualwebauthn.Authenticator
	Cred       virtualwebauthn.Credential
}

// Activate enrols p as the officer by and activates the identity with a
// new virtual passkey on a device named "phone".
func Activate(t testing.TB, svc *enrollment.Service, by enrollment.Principal, p enrollment.Proofing) *Phone {
	t.Helper()
	ctx := context.Background()
	e, err := svc.Enrol(ctx, by, p)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := svc.BeginActivation(ctx, p.NationalID, e.Code.Code)
	if err != nil {
		t.Fatal(err)
	}
	ao, err := virtualwebauthn.ParseAttestationOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	ph := &Phone{NationalID: p.NationalID, Auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(ao.UserID)}), Cred: Passkey(t)}
	resp := virtualwebauthn.CreateAttestationResponse(RP, ph.Auth, ph.Cred, *ao)
	ph.Auth.AddCredential(ph.Cred)
	act, err := svc.FinishActivation(ctx, ch.CeremonyID, "phone", []byte(resp))
	if err != nil || act.Identity.State != store.IdentityActive {
		t.Fatalf("activate %s: %+v %v", p.NationalID, act.Identity, err)
	}
	return ph
}

// Assert answers a WebAuthn assertion challenge with the phone's passkey.
func (ph *Phone) Assert(t testing.TB, options []byte) []byte {
	t.Helper()
	ao, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		t.Fatal(err)
	}
	ph.Cred.Counter++
	return []byte(virtualwebauthn.CreateAssertionResponse(RP, ph.Auth, ph.Cred, *ao))
}

// Citizens creates the centre AMM-01 and an officer there, and enrols and
// activates count citizens whose national numbers are nidPrefix followed
// by two digits, each on their own phone. The officer signs in with the
// TOTP code of the wall clock, so svc must run on it.
func Citizens(t testing.TB, svc *enrollment.Service, nidPrefix string, count int) []*Phone {
	t.Helper()
	centre := store.Centre{Code: "AMM-01", NameAr: "عمان", NameEn: "Amman", Governorate: "Amman"}
	if _, err := svc.CreateCentre(context.Background(), enrollment.Operator("root"), centre); err != nil {
		t.Fatal(err)
	}
	officer := Officer(t, svc, "omar", store.RoleOfficer, centre.Code, "correct horse battery staple", time.Now())
	phones := make([]*Phone, count)
	for i := range phones {
		phones[i] = Activate(t, svc, officer, Proofing(fmt.Sprintf("%s%02d", nidPrefix, i)))
	}
	return phones
}
