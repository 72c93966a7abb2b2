package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/store"
)

// passkey makes a virtual passkey whose EC coordinates are full length
// (virtualwebauthn drops leading zeros, which WebAuthn libraries refuse).
func passkey(t testing.TB) virtualwebauthn.Credential {
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

// signInOfficer creates an officer through one replica and signs them in
// through the other.
func signInOfficer(t testing.TB, create, signIn *Node, user, role string) enrollment.Principal {
	t.Helper()
	ctx := context.Background()
	const pw = "correct horse battery staple"
	enr, err := create.Enrollment.CreateOfficer(ctx, enrollment.Operator("root"), enrollment.NewOfficer{Username: user, Role: role, Centre: "AMM-01", Password: pw})
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
	_, p, err := signIn.Enrollment.OfficerSignIn(ctx, user, pw, code)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReplicasPasskeyAndApprovalRace: a citizen's activation and passkey
// sign-in are each begun on one replica and finished on the other, a
// WebAuthn response is accepted once across both, and a four-eyes
// revocation approved by two supervisors on two replicas at once is
// approved exactly once.
func TestReplicasPasskeyAndApprovalRace(t *testing.T) {
	ctx := context.Background()
	a, b := openReplicas(t)
	if _, err := a.Enrollment.CreateCentre(ctx, enrollment.Operator("root"), store.Centre{Code: "AMM-01", NameAr: "عمّان", NameEn: "Amman", Governorate: "Amman"}); err != nil {
		t.Fatal(err)
	}
	officer := signInOfficer(t, a, b, "omar", store.RoleOfficer)
	const nid = "9861234567"
	enr, err := b.Enrollment.Enrol(ctx, officer, enrollment.Proofing{NationalID: nid, GivenName: "Layla", Surname: "Haddad",
		GivenNameAr: "ليلى", SurnameAr: "حداد", DateOfBirth: "1990-04-12", DocType: "national-id-card", DocNumber: "ab123456",
		DocExpiry: "2030-01-01", DocCheck: "pass", FaceMatch: "pass"})
	if err != nil {
		t.Fatal(err)
	}
	rp := virtualwebauthn.RelyingParty{ID: "localhost", Name: "Thiqa", Origin: "http://localhost:8080"}

	// Activation: begun on A, finished on B.
	ch, err := a.Enrollment.BeginActivation(ctx, nid, enr.Code.Code)
	if err != nil {
		t.Fatal(err)
	}
	ao, err := virtualwebauthn.ParseAttestationOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	auth := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(ao.UserID), BackupEligible: true, BackupState: true})
	cred := passkey(t)
	resp := virtualwebauthn.CreateAttestationResponse(rp, auth, cred, *ao)
	auth.AddCredential(cred)
	if _, err := b.Enrollment.FinishActivation(ctx, ch.CeremonyID, "my phone", []byte(resp)); err != nil {
		t.Fatalf("activation begun on A, finished on B: %v", err)
	}

	// Sign-in: begun on B, finished on A; the same response replayed on
	// B is refused (the ceremony is gone from the shared store).
	ch, err = b.Enrollment.BeginSignIn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	as, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	cred.Counter++
	assertion := []byte(virtualwebauthn.CreateAssertionResponse(rp, auth, cred, *as))
	tok, citizen, err := a.Enrollment.FinishSignIn(ctx, ch.CeremonyID, assertion)
	if err != nil {
		t.Fatalf("sign-in begun on B, finished on A: %v", err)
	}
	if citizen.NationalID != nid {
		t.Fatalf("signed in as %+v", citizen)
	}
	if _, _, err := b.Enrollment.FinishSignIn(ctx, ch.CeremonyID, assertion); err == nil {
		t.Fatal("a sign-in response accepted twice, once on each replica")
	}
	if p, err := b.Enrollment.Authenticate(ctx, tok.Token); err != nil || p.NationalID != nid {
		t.Fatalf("replica B Authenticate = %+v, %v", p, err)
	}

	// Four-eyes revocation: requested on A, two supervisors approve at
	// once, one on each replica.
	req, err := a.Enrollment.RequestRevocation(ctx, officer, nid, "keyCompromise", "the citizen reported the phone stolen")
	if err != nil {
		t.Fatal(err)
	}
	sups := []enrollment.Principal{signInOfficer(t, a, b, "huda", store.RoleSupervisor), signInOfficer(t, b, a, "sami", store.RoleSupervisor)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	var errs []error
	for i, n := range []*Node{a, b} {
		wg.Go(func() {
			_, err := n.Enrollment.Approve(ctx, sups[i], req.ID, true)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins++
			} else {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d approvals won (errors: %v), want exactly 1", wins, errors.Join(errs...))
	}
	t.Logf("the losing approval: %v", errors.Join(errs...))
	v, err := a.Enrollment.Identity(ctx, sups[0], nid)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != store.IdentityRevoked {
		t.Fatalf("identity state after the approval: %s, want %s", v.State, store.IdentityRevoked)
	}
}
