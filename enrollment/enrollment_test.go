package enrollment

import (
	"crypto/x509"
	"encoding/asn1"
	"strings"
	"testing"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	zl "github.com/zmap/zlint/v3/lint"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/store"
)

var (
	oidGivenName = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSurname   = asn1.ObjectIdentifier{2, 5, 4, 4}
)

// TestEndToEnd: admin creates an officer, the officer signs in with
// password and TOTP and enrols a citizen, the citizen activates with the
// code and a passkey, the certificates carry the enrolled names, and the
// citizen signs in.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.centre(t, "AMM-01")
	admin := Operator("root")
	enr, err := e.svc.CreateOfficer(ctx, admin, NewOfficer{Username: "omar", Role: store.RoleOfficer, Centre: "AMM-01", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enr.TOTPURL, "otpauth://totp/Thiqa:omar?") || len(enr.TOTPQR) < 100 {
		t.Fatalf("TOTP enrolment: %q, %d bytes of QR", enr.TOTPURL, len(enr.TOTPQR))
	}
	off := e.officer(t, "omar2", store.RoleOfficer, "AMM-01")
	res, err := e.svc.Enrol(ctx, off, layla("٩٨٦١٢٣٤٥٦٧"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Identity.State != store.IdentityEnrolled || res.Record.NationalID != "9861234567" || res.Record.Officer != "omar2" || res.Record.Centre != "AMM-01" {
		t.Fatalf("enrolment: %+v", res)
	}
	if len(res.Code.Code) != 11 || !res.Code.Expires.Equal(testNow.Add(15*60e9)) || len(res.Code.QR) == 0 {
		t.Fatalf("code %+v", res.Code)
	}
	// The code is typed back in lower case, with Arabic-Indic digits.
	typed := strings.ToLower(strings.NewReplacer("1", "١", "2", "٢").Replace(res.Code.Code))
	p, act := e.activate(t, "9861234567", typed)
	if act.Identity.State != store.IdentityActive || len(act.Identity.Devices) != 1 || !act.Identity.Devices[0].BackedUp {
		t.Fatalf("activation: %+v", act.Identity)
	}
	id := e.identity(t, "9861234567")
	if id.KeyID != "citizen-"+strings.ToLower(id.ID) || len(id.Credentials[0].AAGUID) != 16 || !id.Credentials[0].UserVerified {
		t.Errorf("identity %+v", id)
	}
	for _, k := range []string{id.KeyID, id.KeyID + "-auth"} {
		if _, err := e.keys.Key(ctx, hsm.KeyID(k)); err != nil {
			t.Errorf("key %s: %v", k, err)
		}
	}
	for _, tc := range []struct {
		name string
		der  []byte
		eku  x509.ExtKeyUsage
	}{{"signing", act.SigningCert, -1}, {"auth", act.AuthCert, x509.ExtKeyUsageClientAuth}} {
		t.Run(tc.name, func(t *testing.T) {
			cert, err := x509.ParseCertificate(tc.der)
			if err != nil {
				t.Fatal(err)
			}
			checkSubject(t, cert)
			checkLint(t, tc.der)
			issuer, _ := e.ca.AuthorityCertificate("citizen-ca")
			if err := cert.CheckSignatureFrom(issuer); err != nil {
				t.Error(err)
			}
			rec, err := e.ca.Lookup(ctx, cert.SerialNumber)
			if err != nil || rec.Status != store.StatusValid {
				t.Errorf("CA record %+v, %v", rec, err)
			}
		})
	}
	tok, who, err := e.signIn(t, p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Authenticate(ctx, tok.Token)
	if err != nil || got.NationalID != "9861234567" || got.Kind != KindCitizen || who.IdentityID != got.IdentityID {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	me, err := e.svc.Me(ctx, got)
	if err != nil || me.GivenNameAr != "ليلى" || me.Devices[0].LastUsed.IsZero() {
		t.Fatalf("Me = %+v, %v", me, err)
	}
	e.advance(16 * 60e9)
	if _, err := e.svc.Authenticate(ctx, tok.Token); err != ErrUnauthenticated {
		t.Fatalf("expired session: %v", err)
	}
}

func checkSubject(t *testing.T, cert *x509.Certificate) {
	t.Helper()
	s := cert.Subject
	if s.SerialNumber != "PNOJO-9861234567" || s.CommonName != "Layla Haddad" || len(s.Country) != 1 || s.Country[0] != "JO" {
		t.Errorf("subject %v", s)
	}
	var given, sur []string
	for _, a := range s.Names {
		switch {
		case a.Type.Equal(oidGivenName):
			given = append(given, a.Value.(string))
		case a.Type.Equal(oidSurname):
			sur = append(sur, a.Value.(string))
		}
	}
	if strings.Join(given, "|") != "Layla|ليلى" || strings.Join(sur, "|") != "Haddad|حداد" {
		t.Errorf("givenName %q surname %q", given, sur)
	}
}

func checkLint(t *testing.T, der []byte) {
	t.Helper()
	zc, err := zx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := zl.GlobalRegistry().Filter(zl.FilterOptions{ExcludeNames: []string{"e_cert_issued_by_compromised_emudhra_ca"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range zlint.LintCertificateEx(zc, reg).Results {
		if r.Status == zl.Warn || r.Status == zl.Error || r.Status == zl.Fatal {
			t.Errorf("zlint %s: %s %s", name, r.Status, r.Details)
		}
	}
}

var _ = ca.CitizenAuth
