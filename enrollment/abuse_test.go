package enrollment

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	bolt "go.etcd.io/bbolt"

	"github.com/thiqa/thiqa/store"
)

func TestOfficerSignInRefusals(t *testing.T) {
	e := newEnv(t)
	e.centre(t, "AMM-01")
	e.officer(t, "omar", store.RoleOfficer, "AMM-01")
	e.advance(time.Minute)
	used := e.code(t, "omar")
	if _, _, err := e.svc.OfficerSignIn(ctx, "omar", password, used); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, user, pw, code string
	}{
		{"unknown user", "nobody", password, "000000"},
		{"wrong password", "omar", "wrong password!", used},
		{"reused code", "omar", password, used},
		{"wrong code", "omar", password, "123456x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.svc.OfficerSignIn(ctx, tc.user, tc.pw, tc.code)
			wantErr(t, err, ErrBadCredentials)
		})
	}
	// Brute force of the TOTP code: the account locks, and then even the
	// right code is refused until the lock ends.
	for i := 0; i < 4; i++ {
		e.svc.OfficerSignIn(ctx, "omar", password, "000000")
	}
	e.advance(30 * time.Second)
	_, _, err := e.svc.OfficerSignIn(ctx, "omar", password, e.code(t, "omar"))
	wantErr(t, err, ErrLocked)
	e.advance(16 * time.Minute)
	if _, _, err := e.svc.OfficerSignIn(ctx, "omar", password, e.code(t, "omar")); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
}

func TestEnrolRefusals(t *testing.T) {
	e := newEnv(t)
	e.centre(t, "AMM-01")
	off := e.officer(t, "omar", store.RoleOfficer, "AMM-01")
	for _, tc := range []struct {
		name string
		edit func(*Proofing)
	}{
		{"short national number", func(p *Proofing) { p.NationalID = "986123456" }},
		{"letters in national number", func(p *Proofing) { p.NationalID = "98612345a7" }},
		{"Arabic in Latin name", func(p *Proofing) { p.GivenName = "ليلى" }},
		{"Latin in Arabic name", func(p *Proofing) { p.SurnameAr = "Haddad" }},
		{"empty surname", func(p *Proofing) { p.Surname = "" }},
		{"birth in the future", func(p *Proofing) { p.DateOfBirth = "2027-01-01" }},
		{"bad date", func(p *Proofing) { p.DateOfBirth = "12/04/1990" }},
		{"expired document", func(p *Proofing) { p.DocExpiry = "2025-01-01" }},
		{"unknown document", func(p *Proofing) { p.DocType = "library-card" }},
		{"unknown check result", func(p *Proofing) { p.FaceMatch = "maybe" }},
		{"correction of nothing", func(p *Proofing) { p.Corrects = "enr-00000099" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot(t)
			p := layla("9861234567")
			tc.edit(&p)
			_, err := e.svc.Enrol(ctx, off, p)
			wantErr(t, err, ErrInvalid)
			if e.snapshot(t) != before {
				t.Error("the store changed")
			}
		})
	}
	t.Run("failed face match", func(t *testing.T) {
		p := layla("9861234567")
		p.FaceMatch = "fail"
		res, err := e.svc.Enrol(ctx, off, p)
		wantErr(t, err, ErrProofing)
		if res.Code.Code != "" || res.Record.ID == "" {
			t.Fatalf("failed proofing: %+v", res)
		}
		if _, err := e.svc.BeginActivation(ctx, "9861234567", "00000-00000"); err == nil {
			t.Fatal("activation after failed proofing")
		}
	})
	t.Run("admin without centre", func(t *testing.T) {
		_, err := e.svc.Enrol(ctx, Operator("x"), layla("9861234567"))
		wantErr(t, err, ErrForbidden)
	})
}

func TestActivationRefusals(t *testing.T) {
	e := newEnv(t)
	e.centre(t, "AMM-01")
	off := e.officer(t, "omar", store.RoleOfficer, "AMM-01")
	res, err := e.svc.Enrol(ctx, off, layla("9861234567"))
	if err != nil {
		t.Fatal(err)
	}
	code := res.Code.Code
	wrong := "ZZZZZ-ZZZZZ"
	if code == wrong {
		wrong = "YYYYY-YYYYY"
	}
	t.Run("bad national number", func(t *testing.T) {
		before := e.snapshot(t)
		_, err := e.svc.BeginActivation(ctx, "98612345", code)
		wantErr(t, err, ErrInvalid)
		if e.snapshot(t) != before {
			t.Error("the store changed")
		}
	})
	t.Run("unknown national number", func(t *testing.T) {
		before := e.snapshot(t)
		_, err := e.svc.BeginActivation(ctx, "1111111111", code)
		wantErr(t, err, ErrBadCode)
		if e.snapshot(t) != before {
			t.Error("the store changed")
		}
	})
	// A registration that fails verification changes nothing: the
	// ceremony stays, the code stays unused.
	ch, err := e.svc.BeginActivation(ctx, "9861234567", code)
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.svc.BeginActivation(ctx, "9861234567", code)
	if err != nil {
		t.Fatal(err)
	}
	uv := virtualwebauthn.AuthenticatorOptions{}
	for _, tc := range []struct {
		name string
		ch   Challenge
		id   string
		opts virtualwebauthn.AuthenticatorOptions
		rp   virtualwebauthn.RelyingParty
		want error
	}{
		{"other challenge", other, ch.CeremonyID, uv, e.rp, ErrWebAuthn},
		{"wrong origin", ch, ch.CeremonyID, uv, virtualwebauthn.RelyingParty{ID: "localhost", Origin: "https://evil.example"}, ErrWebAuthn},
		{"wrong RP ID", ch, ch.CeremonyID, uv, virtualwebauthn.RelyingParty{ID: "evil.example", Origin: e.rp.Origin}, ErrWebAuthn},
		{"no user verification", ch, ch.CeremonyID, virtualwebauthn.AuthenticatorOptions{UserNotVerified: true}, e.rp, ErrWebAuthn},
		{"unknown ceremony", ch, "nope", uv, e.rp, ErrCeremony},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot(t)
			_, resp := e.register(t, tc.ch, tc.opts, tc.rp)
			_, err := e.svc.FinishActivation(ctx, tc.id, "phone", resp)
			wantErr(t, err, tc.want)
			if e.snapshot(t) != before {
				t.Error("the store changed")
			}
		})
	}
	t.Run("garbage", func(t *testing.T) {
		before := e.snapshot(t)
		for _, body := range []string{"", "{}", "null", `{"id":"AA","rawId":"AA","type":"public-key","response":{}}`, strings.Repeat("[", 100000)} {
			_, err := e.svc.FinishActivation(ctx, ch.CeremonyID, "phone", []byte(body))
			wantErr(t, err, ErrWebAuthn)
		}
		if e.snapshot(t) != before {
			t.Error("the store changed")
		}
	})
	// The real activation goes through; then the code is spent.
	_, resp := e.register(t, ch, uv, e.rp)
	if _, err := e.svc.FinishActivation(ctx, ch.CeremonyID, "phone", resp); err != nil {
		t.Fatal(err)
	}
	t.Run("replayed registration", func(t *testing.T) {
		before := e.snapshot(t)
		_, err := e.svc.FinishActivation(ctx, ch.CeremonyID, "phone", resp)
		wantErr(t, err, ErrCeremony)
		if e.snapshot(t) != before {
			t.Error("the store changed")
		}
	})
	t.Run("reused code", func(t *testing.T) {
		before := e.snapshot(t)
		_, err := e.svc.BeginActivation(ctx, "9861234567", code)
		wantErr(t, err, ErrBadCode)
		// the second ceremony begun with the code cannot finish either
		_, resp := e.register(t, other, uv, e.rp)
		_, err = e.svc.FinishActivation(ctx, other.CeremonyID, "phone", resp)
		wantErr(t, err, ErrBadCode)
		if e.identity(t, "9861234567").State != store.IdentityActive {
			t.Error("state changed")
		}
		_ = before
	})
	t.Run("wrong codes lock", func(t *testing.T) {
		res, err := e.svc.Enrol(ctx, off, layla("1234567890"))
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 5; i++ {
			_, err := e.svc.BeginActivation(ctx, "1234567890", wrong)
			if i < 5 {
				wantErr(t, err, ErrBadCode)
			} else {
				wantErr(t, err, ErrLocked)
			}
		}
		id := e.identity(t, "1234567890")
		before := e.snapshot(t)
		_, err = e.svc.BeginActivation(ctx, "1234567890", res.Code.Code)
		wantErr(t, err, ErrLocked)
		if e.snapshot(t) != before || id.State != store.IdentityEnrolled || !id.CodeLocked {
			t.Errorf("locked identity %+v or store changed", id)
		}
		// An officer re-issues a code, which unlocks.
		c, err := e.svc.ReissueCode(ctx, off, "1234567890")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.BeginActivation(ctx, "1234567890", c.Code); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("expired code", func(t *testing.T) {
		res, err := e.svc.Enrol(ctx, off, layla("5555555555"))
		if err != nil {
			t.Fatal(err)
		}
		e.advance(15*time.Minute + time.Second)
		before := e.snapshot(t)
		_, err = e.svc.BeginActivation(ctx, "5555555555", res.Code.Code)
		wantErr(t, err, ErrBadCode)
		if e.snapshot(t) != before {
			t.Error("the store changed")
		}
	})
}

func TestSignInRefusals(t *testing.T) {
	e := newEnv(t)
	_, p, _ := e.enrolled(t, "9861234567")
	ch, err := e.svc.BeginSignIn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.svc.BeginSignIn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stranger := &phone{auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: p.auth.Options.UserHandle}),
		cred: newCredential()}
	for _, tc := range []struct {
		name string
		resp func() []byte
		id   string
		want error
	}{
		{"other challenge", func() []byte { return e.assert(t, p, other, e.rp) }, ch.CeremonyID, ErrWebAuthn},
		{"wrong origin", func() []byte {
			return e.assert(t, p, ch, virtualwebauthn.RelyingParty{ID: "localhost", Origin: "https://evil.example"})
		}, ch.CeremonyID, ErrWebAuthn},
		{"wrong RP ID", func() []byte {
			return e.assert(t, p, ch, virtualwebauthn.RelyingParty{ID: "evil.example", Origin: e.rp.Origin})
		}, ch.CeremonyID, ErrWebAuthn},
		{"unknown passkey", func() []byte { return e.assert(t, stranger, ch, e.rp) }, ch.CeremonyID, ErrWebAuthn},
		{"sign counter back", func() []byte {
			p.cred.Counter = 0
			return e.assert(t, p, ch, e.rp)
		}, ch.CeremonyID, ErrWebAuthn},
		{"backup eligibility changed", func() []byte {
			q := *p
			q.auth.Options.BackupEligible, q.auth.Options.BackupState = false, false
			q.cred.Counter = 10
			return e.assert(t, &q, ch, e.rp)
		}, ch.CeremonyID, ErrWebAuthn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "sign counter back" {
				// first a good sign-in that moves the counter to 2
				p.cred.Counter = 1
				if _, _, err := e.signIn(t, p); err != nil {
					t.Fatal(err)
				}
			}
			before := e.snapshot(t)
			_, _, err := e.svc.FinishSignIn(ctx, tc.id, tc.resp())
			wantErr(t, err, tc.want)
			if e.snapshot(t) != before {
				t.Error("the store changed")
			}
		})
	}
	p.cred.Counter = 5
	resp := e.assert(t, p, ch, e.rp)
	if _, _, err := e.svc.FinishSignIn(ctx, ch.CeremonyID, resp); err != nil {
		t.Fatal(err)
	}
	t.Run("replayed assertion", func(t *testing.T) {
		before := e.snapshot(t)
		_, _, err := e.svc.FinishSignIn(ctx, ch.CeremonyID, resp)
		wantErr(t, err, ErrCeremony)
		if e.snapshot(t) != before {
			t.Error("the store changed")
		}
	})
	t.Run("expired ceremony", func(t *testing.T) {
		ch, _ := e.svc.BeginSignIn(ctx)
		e.advance(6 * time.Minute)
		_, _, err := e.svc.FinishSignIn(ctx, ch.CeremonyID, e.assert(t, p, ch, e.rp))
		wantErr(t, err, ErrCeremony)
	})
	t.Run("bad tokens", func(t *testing.T) {
		for _, tok := range []string{"", "x", strings.Repeat("a", 43), strings.Repeat("a", 4000)} {
			if _, err := e.svc.Authenticate(ctx, tok); err != ErrUnauthenticated {
				t.Errorf("Authenticate(%.10q) = %v", tok, err)
			}
		}
	})
	_ = base64.RawURLEncoding
	_ = json.Marshal
}

// TestCeremoniesPurged: anonymous sign-in begins cannot fill the store:
// each new ceremony deletes expired ones it passes by.
func TestCeremoniesPurged(t *testing.T) {
	e := newEnv(t)
	for range 50 {
		if _, err := e.svc.BeginSignIn(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.advance(6 * time.Minute)
	for range 200 {
		if _, err := e.svc.BeginSignIn(ctx); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	e.st.DB().View(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte("enr_ceremonies")).Stats().KeyN
		return nil
	})
	if n > 205 {
		t.Fatalf("%d ceremonies stored, want the 50 expired ones mostly gone", n)
	}
}

func TestDisableOfficer(t *testing.T) {
	e := newEnv(t)
	e.centre(t, "AMM-01")
	admin := e.officer(t, "root", store.RoleAdmin, "")
	off := e.officer(t, "omar", store.RoleOfficer, "AMM-01")
	e.advance(time.Minute)
	tok, _, err := e.svc.OfficerSignIn(ctx, "omar", password, e.code(t, "omar"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		by   Principal
		user string
		want error
	}{
		{"by an officer", off, "omar", ErrForbidden},
		{"own account", admin, "root", ErrForbidden},
		{"unknown", admin, "nobody", ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot(t)
			wantErr(t, e.svc.DisableOfficer(ctx, tc.by, tc.user, "left"), tc.want)
			if e.snapshot(t) != before {
				t.Error("the store changed")
			}
		})
	}
	if err := e.svc.DisableOfficer(ctx, admin, "omar", "left the service"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, tok.Token); err != ErrUnauthenticated {
		t.Errorf("session of a disabled officer: %v", err)
	}
	e.advance(time.Minute)
	_, _, err = e.svc.OfficerSignIn(ctx, "omar", password, e.code(t, "omar"))
	wantErr(t, err, ErrLocked)
}
