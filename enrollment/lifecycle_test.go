package enrollment

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/store"
)

func certStatus(t *testing.T, e *env, serial string) store.CertStatus {
	t.Helper()
	n, _ := new(big.Int).SetString(serial, 16)
	c, err := e.ca.Lookup(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return c.Status
}

func TestDevices(t *testing.T) {
	e := newEnv(t)
	off, p1, _ := e.enrolled(t, "9861234567")
	tok, _, err := e.signIn(t, p1)
	if err != nil {
		t.Fatal(err)
	}
	citizen, _ := e.svc.Authenticate(ctx, tok.Token)

	// Add a second phone, approved with the first passkey.
	ch, err := e.svc.BeginAddDevice(ctx, citizen)
	if err != nil {
		t.Fatal(err)
	}
	p2, resp := e.register(t, ch, virtualwebauthn.AuthenticatorOptions{}, e.rp)
	v, err := e.svc.FinishAddDevice(ctx, citizen, ch.CeremonyID, "tablet", resp)
	if err != nil || len(v.Devices) != 2 || v.Devices[1].Name != "tablet" {
		t.Fatalf("add device: %+v, %v", v, err)
	}
	// A stale session cannot approve a device.
	e.advance(6 * time.Minute)
	_, err = e.svc.BeginAddDevice(ctx, citizen)
	wantErr(t, err, ErrUnauthenticated)

	// Lost phone: from the tablet, the citizen disables the phone. Its
	// sessions end; the keys and certificates are untouched.
	tok2, _, err := e.signIn(t, p2)
	if err != nil {
		t.Fatal(err)
	}
	citizen2, _ := e.svc.Authenticate(ctx, tok2.Token)
	tokPhone, _, err := e.signIn(t, p1)
	if err != nil {
		t.Fatal(err)
	}
	before := e.identity(t, "9861234567")
	v, err = e.svc.DisableDevice(ctx, citizen2, "9861234567", v.Devices[0].ID, "phone lost on the bus")
	if err != nil || !v.Devices[0].Disabled || v.Devices[1].Disabled {
		t.Fatalf("disable: %+v, %v", v, err)
	}
	after := e.identity(t, "9861234567")
	if after.KeyID != before.KeyID || after.SigningCert != before.SigningCert || certStatus(t, e, after.SigningCert) != store.StatusValid {
		t.Error("disabling a passkey touched the key or certificate")
	}
	if _, err := e.svc.Authenticate(ctx, tokPhone.Token); err != ErrUnauthenticated {
		t.Errorf("session of the disabled passkey: %v", err)
	}
	if _, _, err := e.signIn(t, p1); err == nil {
		t.Error("the disabled passkey signs in")
	}
	if _, _, err := e.signIn(t, p2); err != nil {
		t.Errorf("the tablet no longer signs in: %v", err)
	}

	// A new phone at the centre after a new in-person check: the code adds
	// a device and disables the others.
	res, err := e.svc.Enrol(ctx, off, layla("9861234567"))
	if err != nil || res.Code.Purpose != store.CodeAddDevice || res.Record.Purpose != "re-proof" {
		t.Fatalf("re-proof: %+v, %v", res, err)
	}
	p3, act := e.activate(t, "9861234567", res.Code.Code)
	if act.SigningCert != nil || act.Identity.SigningCert != before.SigningCert {
		t.Error("re-proofing issued a new certificate")
	}
	for i, d := range act.Identity.Devices {
		if d.Disabled != (i < 2) {
			t.Errorf("device %d %s disabled=%v", i, d.Name, d.Disabled)
		}
	}
	if _, _, err := e.signIn(t, p2); err == nil {
		t.Error("the tablet still signs in after re-proofing")
	}
	if _, _, err := e.signIn(t, p3); err != nil {
		t.Fatal(err)
	}
	events := e.events(t, "9861234567")
	for _, want := range []string{"enrol", "activate-passkey", "activate", "device-add", "device-disable", "re-proof", "device-add-reproofed"} {
		if !events[want] {
			t.Errorf("no %q event", want)
		}
	}
}

func (e *env) events(t *testing.T, nid string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	e.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
		es, err := tx.Events(identitySubject(nid))
		for _, ev := range es {
			if ev.Actor == "" || ev.At.IsZero() {
				t.Errorf("event without actor or time: %+v", ev)
			}
			out[ev.Action] = true
		}
		return err
	})
	return out
}

func TestSuspendResume(t *testing.T) {
	e := newEnv(t)
	off, p, _ := e.enrolled(t, "9861234567")
	id := e.identity(t, "9861234567")
	if _, err := e.svc.Suspend(ctx, off, "9861234567", ""); err == nil {
		t.Fatal("suspend without a reason")
	}
	v, err := e.svc.Suspend(ctx, off, "9861234567", "citizen asked by phone")
	if err != nil || v.State != store.IdentitySuspended {
		t.Fatalf("suspend: %+v, %v", v, err)
	}
	for _, s := range []string{id.SigningCert, id.AuthCert} {
		if certStatus(t, e, s) != store.StatusOnHold {
			t.Errorf("certificate %s not on hold", s)
		}
	}
	_, err = e.svc.Suspend(ctx, off, "9861234567", "again")
	wantErr(t, err, ErrState)
	tok, _, err := e.signIn(t, p)
	if err != nil {
		t.Fatalf("a suspended citizen cannot sign in to see their state: %v", err)
	}
	citizen, _ := e.svc.Authenticate(ctx, tok.Token)
	_, err = e.svc.Resume(ctx, citizen, "9861234567", "me")
	wantErr(t, err, ErrForbidden)
	if v, err = e.svc.Resume(ctx, off, "9861234567", "citizen came to the centre"); err != nil || v.State != store.IdentityActive {
		t.Fatalf("resume: %+v, %v", v, err)
	}
	if certStatus(t, e, id.SigningCert) != store.StatusValid {
		t.Error("certificate still on hold")
	}
	// The citizen suspends from the app.
	if v, err = e.svc.Suspend(ctx, citizen, "9861234567", "phone stolen"); err != nil || v.State != store.IdentitySuspended {
		t.Fatalf("self suspend: %+v, %v", v, err)
	}
}

func TestRevokeFourEyesAndReenrol(t *testing.T) {
	e := newEnv(t)
	off, p, _ := e.enrolled(t, "9861234567")
	e.centre(t, "IRB-01")
	sup := e.officer(t, "sara", store.RoleSupervisor, "AMM-01")
	otherSup := e.officer(t, "zaid", store.RoleSupervisor, "IRB-01")
	old := e.identity(t, "9861234567")

	_, err := e.svc.RequestRevocation(ctx, off, "9861234567", "certificateHold", "no")
	wantErr(t, err, ErrInvalid)
	a, err := e.svc.RequestRevocation(ctx, off, "9861234567", "keyCompromise", "citizen reports the phone was compromised")
	if err != nil || a.Status != "pending" {
		t.Fatalf("request: %+v, %v", a, err)
	}
	for _, tc := range []struct {
		name string
		by   Principal
		want error
	}{
		{"requester", off, ErrForbidden},
		{"officer", e.officer(t, "hala", store.RoleOfficer, "AMM-01"), ErrForbidden},
		{"supervisor of another centre", otherSup, ErrForbidden},
		{"unknown approval", sup, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot(t)
			id := a.ID
			if tc.want == ErrNotFound {
				id = "nope"
			}
			_, err := e.svc.Approve(ctx, tc.by, id, true)
			wantErr(t, err, tc.want)
			if e.snapshot(t) != before || certStatus(t, e, old.SigningCert) != store.StatusValid {
				t.Error("something changed")
			}
		})
	}
	if as, err := e.svc.PendingApprovals(ctx, sup); err != nil || len(as) != 1 || as[0].ID != a.ID {
		t.Fatalf("pending for the centre's supervisor: %+v, %v", as, err)
	}
	if as, err := e.svc.PendingApprovals(ctx, otherSup); err != nil || len(as) != 0 {
		t.Fatalf("pending for another centre's supervisor: %+v, %v", as, err)
	}
	if _, err := e.svc.PendingApprovals(ctx, off); err == nil {
		t.Fatal("an officer lists approvals")
	}
	if _, err := e.svc.Approve(ctx, sup, a.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Approve(ctx, sup, a.ID, true); err == nil {
		t.Error("approved twice")
	}
	id := e.identity(t, "9861234567")
	if id.State != store.IdentityRevoked || certStatus(t, e, old.SigningCert) != store.StatusRevoked || certStatus(t, e, old.AuthCert) != store.StatusRevoked {
		t.Fatalf("after approval: %s, %s", id.State, certStatus(t, e, old.SigningCert))
	}
	if _, _, err := e.signIn(t, p); err == nil {
		t.Error("a revoked identity signs in")
	}

	// Re-enrollment: a new generation, a new key and certificate.
	res, err := e.svc.Enrol(ctx, off, layla("9861234567"))
	if err != nil {
		t.Fatal(err)
	}
	_, act := e.activate(t, "9861234567", res.Code.Code)
	nw := e.identity(t, "9861234567")
	if nw.Generation != 2 || nw.ID == old.ID || nw.KeyID == old.KeyID || nw.SigningCert == old.SigningCert || len(nw.Credentials) != 1 {
		t.Fatalf("re-enrolled identity %+v", nw)
	}
	c, _ := x509.ParseCertificate(act.SigningCert)
	oldKey, _ := e.keys.Key(ctx, hsm.KeyID(old.KeyID))
	if c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(oldKey.Public()) {
		t.Error("re-enrollment reused the old key")
	}
	if !e.events(t, "9861234567")["revoke-approved"] {
		t.Error("no revoke-approved event")
	}
}

func TestCentreScope(t *testing.T) {
	e := newEnv(t)
	_, p, _ := e.enrolled(t, "9861234567")
	e.centre(t, "IRB-01")
	stranger := e.officer(t, "zaid", store.RoleOfficer, "IRB-01")
	devID := e.identity(t, "9861234567").Credentials[0].ID
	dev := (&IdentityView{Devices: devices(store.Identity{Credentials: []store.Passkey{{ID: devID}}})}).Devices[0].ID
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"reissue", func() error { _, err := e.svc.ReissueCode(ctx, stranger, "9861234567"); return err }},
		{"suspend", func() error { _, err := e.svc.Suspend(ctx, stranger, "9861234567", "x"); return err }},
		{"disable device", func() error { _, err := e.svc.DisableDevice(ctx, stranger, "9861234567", dev, "x"); return err }},
		{"revoke", func() error {
			_, err := e.svc.RequestRevocation(ctx, stranger, "9861234567", "keyCompromise", "x")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot(t)
			wantErr(t, tc.do(), ErrForbidden)
			if e.snapshot(t) != before {
				t.Error("the store changed")
			}
		})
	}
	v, err := e.svc.Identity(ctx, stranger, "9861234567")
	if err != nil || !v.Limited || v.GivenName != "" || len(v.Devices) != 0 || len(v.Records) != 0 {
		t.Fatalf("officer of another centre sees %+v, %v", v, err)
	}
	// A citizen reaches only their own identity.
	res, err := e.svc.Enrol(ctx, e.officer(t, "hala", store.RoleOfficer, "AMM-01"), layla("1234567890"))
	if err != nil {
		t.Fatal(err)
	}
	q, _ := e.activate(t, "1234567890", res.Code.Code)
	tok, _, err := e.signIn(t, q)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := e.svc.Authenticate(ctx, tok.Token)
	before := e.snapshot(t)
	if _, err := e.svc.Identity(ctx, other, "9861234567"); err == nil {
		t.Error("a citizen reads another citizen's identity")
	}
	if _, err := e.svc.DisableDevice(ctx, other, "9861234567", dev, "x"); err == nil {
		t.Error("a citizen disables another citizen's passkey")
	}
	if _, err := e.svc.Suspend(ctx, other, "9861234567", "x"); err == nil {
		t.Error("a citizen suspends another citizen")
	}
	if e.snapshot(t) != before {
		t.Error("the store changed")
	}
	_ = p
}

// TestCorrection: a correction is a new record pointing to the old one;
// the old record stays as it was.
func TestCorrection(t *testing.T) {
	e := newEnv(t)
	e.centre(t, "AMM-01")
	off := e.officer(t, "omar", store.RoleOfficer, "AMM-01")
	first, err := e.svc.Enrol(ctx, off, layla("9861234567"))
	if err != nil {
		t.Fatal(err)
	}
	p := layla("9861234567")
	p.DocNumber, p.Corrects = "AB123457", first.Record.ID
	second, err := e.svc.Enrol(ctx, off, p)
	if err != nil {
		t.Fatal(err)
	}
	if second.Record.Purpose != "correction" || second.Record.Corrects != first.Record.ID || second.Record.ID == first.Record.ID {
		t.Fatalf("correction record %+v", second.Record)
	}
	v, err := e.svc.Identity(ctx, off, "9861234567")
	if err != nil || len(v.Records) != 2 || v.Records[0].DocNumber != "AB123456" || v.Records[1].DocNumber != "AB123457" {
		t.Fatalf("records %+v, %v", v.Records, err)
	}
	// The first code was replaced by the correction's.
	if _, err := e.svc.BeginActivation(ctx, "9861234567", first.Code.Code); err == nil {
		t.Error("the code of the corrected record still works")
	}
	if _, err := e.svc.BeginActivation(ctx, "9861234567", second.Code.Code); err != nil {
		t.Error(err)
	}
}

// flakyCA fails the next issuance it is told to.
type flakyCA struct {
	CA
	fail bool
}

func (f *flakyCA) Issue(ctx context.Context, req ca.Request) (*x509.Certificate, error) {
	if f.fail {
		f.fail = false
		return nil, errors.New("CA unavailable")
	}
	return f.CA.Issue(ctx, req)
}

// TestActivationRetry: when issuance fails after the passkey is registered,
// the identity stays "activating"; an officer re-issues a code and the
// citizen activates again with the same custody keys.
func TestActivationRetry(t *testing.T) {
	e := newEnv(t)
	flaky := &flakyCA{CA: e.ca}
	var err error
	if e.svc, err = New(e.st, e.keys, flaky, e.svc.opts); err != nil {
		t.Fatal(err)
	}
	e.centre(t, "AMM-01")
	off := e.officer(t, "omar", store.RoleOfficer, "AMM-01")
	res, err := e.svc.Enrol(ctx, off, layla("9861234567"))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := e.svc.BeginActivation(ctx, "9861234567", res.Code.Code)
	if err != nil {
		t.Fatal(err)
	}
	_, resp := e.register(t, ch, virtualwebauthn.AuthenticatorOptions{}, e.rp)
	flaky.fail = true
	if _, err := e.svc.FinishActivation(ctx, ch.CeremonyID, "phone", resp); err == nil {
		t.Fatal("activation succeeded with the CA down")
	}
	id := e.identity(t, "9861234567")
	if id.State != store.IdentityActivating || id.SigningCert != "" {
		t.Fatalf("after a failed issuance: %s %q", id.State, id.SigningCert)
	}
	code, err := e.svc.ReissueCode(ctx, off, "9861234567")
	if err != nil {
		t.Fatal(err)
	}
	_, act := e.activate(t, "9861234567", code.Code)
	if act.Identity.State != store.IdentityActive {
		t.Fatalf("retry: %+v", act.Identity)
	}
	k, err := e.keys.Key(ctx, hsm.KeyID(e.identity(t, "9861234567").KeyID))
	c, _ := x509.ParseCertificate(act.SigningCert)
	if err != nil || !c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
		t.Fatalf("certificate not for the custody key: %v", err)
	}
}
