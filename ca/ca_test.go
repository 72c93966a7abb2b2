package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	zl "github.com/zmap/zlint/v3/lint"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/store"
)

// testNow is the pinned clock of these tests.
var testNow = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

type testEnv struct {
	svc   *Service
	store *store.Bolt
	keys  *hsm.Software
	dir   string
	now   *time.Time
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	return newEnv(t, testNow)
}

// newEnv makes a ceremony in a temporary directory with the clock pinned at
// start (and movable through env.now).
func newEnv(t testing.TB, start time.Time) *testEnv {
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
	env := &testEnv{store: st, keys: keys, dir: dir}
	now := start
	env.now = &now
	svc, err := Init(context.Background(), DefaultConfig(), keys, st, Options{Clock: func() time.Time { return *env.now }})
	if err != nil {
		t.Fatal(err)
	}
	env.svc = svc
	return env
}

func citizen() Subject {
	return Subject{NationalID: "٩٨٦١٢٣٤٥٦٧", GivenName: "Layla", Surname: "Haddad", GivenNameAr: "ليلى", SurnameAr: "حداد"}
}

func eseal() Subject {
	return Subject{Organization: "Ministry of Digital Economy", OrgIdentifier: "GOVJO-100200300"}
}

func ecKey(t testing.TB, c elliptic.Curve) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCeremony(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	auths := env.svc.Authorities()
	if len(auths) != 6 {
		t.Fatalf("%d authorities, want 6", len(auths))
	}
	roots := x509.NewCertPool()
	inter := x509.NewCertPool()
	for _, a := range auths {
		switch a.Role {
		case RoleRoot:
			roots.AddCert(a.Certificate)
		case RoleIssuing:
			inter.AddCert(a.Certificate)
		}
	}
	for _, a := range auths {
		t.Run(a.Name, func(t *testing.T) {
			if err := lint(a.Certificate); err != nil {
				t.Errorf("zlint: %v", err)
			}
			eku := []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
			if _, err := a.Certificate.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: testNow.Add(time.Hour), KeyUsages: eku}); err != nil {
				t.Errorf("chain: %v", err)
			}
			wantCA := a.Role == RoleRoot || a.Role == RoleIssuing
			if a.Certificate.IsCA != wantCA {
				t.Errorf("IsCA = %v, want %v", a.Certificate.IsCA, wantCA)
			}
		})
	}
	tsu, _ := env.svc.AuthorityCertificate(TSU)
	if len(tsu.ExtKeyUsage) != 1 || tsu.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || !extCritical(tsu, oidExtKeyUsage) {
		t.Errorf("TSU EKU = %v critical %v; want only timeStamping, critical", tsu.ExtKeyUsage, extCritical(tsu, oidExtKeyUsage))
	}
	for _, name := range IssuingCAs {
		o, _ := env.svc.AuthorityCertificate(OCSPPrefix + name)
		issuer, _ := env.svc.AuthorityCertificate(name)
		if len(o.ExtKeyUsage) != 1 || o.ExtKeyUsage[0] != x509.ExtKeyUsageOCSPSigning || !hasExt(o, oidOCSPNoCheck) {
			t.Errorf("%s OCSP certificate: EKU %v, nocheck %v", name, o.ExtKeyUsage, hasExt(o, oidOCSPNoCheck))
		}
		if o.CheckSignatureFrom(issuer) != nil {
			t.Errorf("%s OCSP certificate not issued by %s", name, name)
		}
	}
	root, _ := env.svc.AuthorityCertificate(Root)
	if root.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P384() || root.NotAfter.Sub(root.NotBefore) < 20*365*24*time.Hour {
		t.Errorf("root: want P-384, 20 years; have %v, %v", root.PublicKey.(*ecdsa.PublicKey).Curve.Params().Name, root.NotAfter.Sub(root.NotBefore))
	}

	// A second ceremony is refused and changes nothing.
	if _, err := Init(ctx, DefaultConfig(), env.keys, env.store, Options{}); !errors.Is(err, ErrInitialized) {
		t.Fatalf("second Init = %v, want ErrInitialized", err)
	}
	again, err := Open(ctx, env.keys, env.store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := again.AuthorityCertificate(Root)
	if !r2.Equal(root) {
		t.Fatal("reopened root differs")
	}
}

func extCritical(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e.Critical
		}
	}
	return false
}

func hasExt(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}

// subjectAttrs returns the subject's attributes with their ASN.1 string tags.
func subjectAttrs(t *testing.T, c *x509.Certificate) []attr {
	t.Helper()
	var rdns []asn1.RawValue
	if _, err := asn1.Unmarshal(c.RawSubject, &rdns); err != nil {
		t.Fatal(err)
	}
	var out []attr
	for _, rdn := range rdns {
		var set []struct {
			Type  asn1.ObjectIdentifier
			Value asn1.RawValue
		}
		if _, err := asn1.UnmarshalWithParams(rdn.FullBytes, &set, "set"); err != nil {
			t.Fatal(err)
		}
		for _, a := range set {
			out = append(out, attr{a.Type.String(), a.Value.Tag, string(a.Value.Bytes)})
		}
	}
	return out
}

type attr struct {
	oid   string
	tag   int
	value string
}

func TestCitizenSigningProfile(t *testing.T) {
	env := newTestEnv(t)
	key := ecKey(t, elliptic.P256())
	cert, err := env.svc.Issue(context.Background(), Request{Profile: CitizenSigning, PublicKey: key.Public(), Subject: citizen()})
	if err != nil {
		t.Fatal(err)
	}
	const printable, utf8 = 19, 12
	want := []attr{
		{"2.5.4.6", printable, "JO"},
		{"2.5.4.3", printable, "Layla Haddad"},
		{"2.5.4.5", printable, "PNOJO-9861234567"},
		{"2.5.4.42", printable, "Layla"},
		{"2.5.4.4", printable, "Haddad"},
		{"2.5.4.42", utf8, "ليلى"},
		{"2.5.4.4", utf8, "حداد"},
	}
	got := subjectAttrs(t, cert)
	if len(got) != len(want) {
		t.Fatalf("subject = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("subject attribute %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if cert.KeyUsage != x509.KeyUsageContentCommitment || !extCritical(cert, asn1.ObjectIdentifier{2, 5, 29, 15}) {
		t.Errorf("key usage = %v, want nonRepudiation only, critical", cert.KeyUsage)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageEmailProtection ||
		len(cert.UnknownExtKeyUsage) != 1 || !cert.UnknownExtKeyUsage[0].Equal(oidEKUDocumentSigning) || cert.IsCA {
		t.Errorf("EKU %v %v, IsCA %v; want emailProtection and documentSigning, not a CA", cert.ExtKeyUsage, cert.UnknownExtKeyUsage, cert.IsCA)
	}
	if d := cert.NotAfter.Sub(cert.NotBefore); d < 729*24*time.Hour || d > 731*24*time.Hour {
		t.Errorf("validity %v, want 2 years", d)
	}
	if len(cert.Policies) != 1 || cert.Policies[0].String() != "2.16.400.1.1.1" {
		t.Errorf("policies = %v, want [2.16.400.1.1.1]", cert.Policies)
	}
	if strings.Join(cert.CRLDistributionPoints, ",") != "http://127.0.0.1:8080/crl/citizen-ca.crl" ||
		strings.Join(cert.OCSPServer, ",") != "http://127.0.0.1:8080/ocsp" ||
		strings.Join(cert.IssuingCertificateURL, ",") != "http://127.0.0.1:8080/ca/citizen-ca.cer" {
		t.Errorf("CDP %v, OCSP %v, caIssuers %v", cert.CRLDistributionPoints, cert.OCSPServer, cert.IssuingCertificateURL)
	}
	qc := qcStatementsOf(t, cert)
	wantQC := map[string]string{
		"1.3.6.1.5.5.7.11.2": "semantics 0.4.0.194121.1.1",
		"0.4.0.1862.1.1":     "",
		"0.4.0.1862.1.7":     "JO",
		"0.4.0.1862.1.6":     "0.4.0.1862.1.6.1",
		"0.4.0.1862.1.5":     "https://127.0.0.1:8080/pds/en en https://127.0.0.1:8080/pds/ar ar",
	}
	if len(qc) != len(wantQC) {
		t.Errorf("QC statements = %v", qc)
	}
	for id, v := range wantQC {
		if qc[id] != v {
			t.Errorf("QC statement %s = %q, want %q", id, qc[id], v)
		}
	}
	for id := range qc {
		if strings.HasPrefix(id, "0.4.0.1862.1.3") || strings.HasPrefix(id, "0.4.0.1862.1.4") {
			t.Errorf("EU-specific QC statement %s present", id)
		}
	}
	if err := lint(cert); err != nil {
		t.Errorf("zlint of the issued certificate: %v", err)
	}
	rec, err := env.svc.Lookup(context.Background(), cert.SerialNumber)
	if err != nil || rec.Profile != string(CitizenSigning) || rec.Issuer != CitizenCA || rec.Status != store.StatusValid {
		t.Fatalf("stored record = %+v, %v", rec, err)
	}
	if cert.SerialNumber.BitLen() < 128 {
		t.Errorf("serial has %d bits", cert.SerialNumber.BitLen())
	}
}

// qcStatementsOf decodes the QC statements into id -> a short text.
func qcStatementsOf(t *testing.T, c *x509.Certificate) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range c.Extensions {
		if !e.Id.Equal(oidQCStatements) {
			continue
		}
		if e.Critical {
			t.Error("QC statements extension is critical")
		}
		var stmts []qcStatement
		if _, err := asn1.Unmarshal(e.Value, &stmts); err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			var v string
			switch {
			case s.ID.Equal(oidQcsPkixSyntaxV2):
				var si semanticsInformation
				asn1.Unmarshal(s.Info.FullBytes, &si)
				v = "semantics " + si.ID.String()
			case s.ID.Equal(oidQcCCLegislation):
				var cc []string
				asn1.Unmarshal(s.Info.FullBytes, &cc)
				v = strings.Join(cc, ",")
			case s.ID.Equal(oidQcType):
				var ts []asn1.ObjectIdentifier
				asn1.Unmarshal(s.Info.FullBytes, &ts)
				for _, o := range ts {
					v += o.String()
				}
			case s.ID.Equal(oidQcPDS):
				var locs []pdsLocation
				asn1.Unmarshal(s.Info.FullBytes, &locs)
				var parts []string
				for _, l := range locs {
					parts = append(parts, l.URL+" "+l.Language)
				}
				v = strings.Join(parts, " ")
			}
			out[s.ID.String()] = v
		}
	}
	return out
}

func TestAuthAndESealProfiles(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	auth, err := env.svc.Issue(ctx, Request{Profile: CitizenAuth, PublicKey: ecKey(t, elliptic.P256()).Public(), Subject: citizen()})
	if err != nil {
		t.Fatal(err)
	}
	if auth.KeyUsage != x509.KeyUsageDigitalSignature || len(auth.ExtKeyUsage) != 1 || auth.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("auth: KU %v EKU %v", auth.KeyUsage, auth.ExtKeyUsage)
	}
	if hasExt(auth, oidQCStatements) || auth.Policies[0].String() != "2.16.400.1.1.2" {
		t.Errorf("auth: QC statements %v, policies %v", hasExt(auth, oidQCStatements), auth.Policies)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	seal, err := env.svc.Issue(ctx, Request{Profile: ESeal, PublicKey: rsaKey.Public(), Subject: eseal()})
	if err != nil {
		t.Fatal(err)
	}
	got := subjectAttrs(t, seal)
	want := []attr{{"2.5.4.6", 19, "JO"}, {"2.5.4.10", 19, "Ministry of Digital Economy"}, {"2.5.4.3", 19, "Ministry of Digital Economy"}, {"2.5.4.97", 19, "GOVJO-100200300"}}
	if len(got) != len(want) {
		t.Fatalf("e-seal subject = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("e-seal subject attribute %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if qc := qcStatementsOf(t, seal); qc["0.4.0.1862.1.6"] != "0.4.0.1862.1.6.2" || qc["1.3.6.1.5.5.7.11.2"] != "semantics 0.4.0.194121.1.2" {
		t.Errorf("e-seal QC statements = %v", qc)
	}
	issuer, _ := env.svc.AuthorityCertificate(OrgCA)
	if err := seal.CheckSignatureFrom(issuer); err != nil {
		t.Errorf("e-seal not issued by the organisation CA: %v", err)
	}
	for _, c := range []*x509.Certificate{auth, seal} {
		if err := lint(c); err != nil {
			t.Errorf("zlint: %v", err)
		}
	}
}

func TestIssueRefusals(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	p256 := ecKey(t, elliptic.P256()).Public()
	p224 := ecKey(t, elliptic.P224()).Public()
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	mod := func(f func(*Subject)) Subject { s := citizen(); f(&s); return s }
	for _, tc := range []struct {
		name string
		req  Request
		want error
	}{
		{"P-224 key", Request{CitizenSigning, p224, citizen()}, ErrProfile},
		{"RSA-1024 key", Request{CitizenSigning, small.Public(), citizen()}, ErrProfile},
		{"no key", Request{CitizenSigning, nil, citizen()}, ErrProfile},
		{"9-digit national number", Request{CitizenSigning, p256, mod(func(s *Subject) { s.NationalID = "986123456" })}, ErrProfile},
		{"letters in national number", Request{CitizenSigning, p256, mod(func(s *Subject) { s.NationalID = "98612345ab" })}, ErrProfile},
		{"Arabic in Latin name", Request{CitizenSigning, p256, mod(func(s *Subject) { s.GivenName = "ليلى" })}, ErrProfile},
		{"Latin in Arabic name", Request{CitizenSigning, p256, mod(func(s *Subject) { s.SurnameAr = "Haddad" })}, ErrProfile},
		{"missing surname", Request{CitizenSigning, p256, mod(func(s *Subject) { s.Surname = "" })}, ErrProfile},
		{"control character", Request{CitizenSigning, p256, mod(func(s *Subject) { s.GivenName = "Lay\x00la" })}, ErrProfile},
		{"organization on a citizen", Request{CitizenAuth, p256, mod(func(s *Subject) { s.Organization = "ACME" })}, ErrProfile},
		{"different common name", Request{CitizenSigning, p256, mod(func(s *Subject) { s.CommonName = "Someone Else" })}, ErrProfile},
		{"too long", Request{CitizenSigning, p256, mod(func(s *Subject) { s.Surname = strings.Repeat("a", 65) })}, ErrProfile},
		{"person on an e-seal", Request{ESeal, p256, Subject{Organization: "X", OrgIdentifier: "GOVJO-1", GivenName: "A"}}, ErrProfile},
		{"bad organization identifier", Request{ESeal, p256, Subject{Organization: "X", OrgIdentifier: "ACME-1"}}, ErrProfile},
		{"unknown profile", Request{"tls-server", p256, citizen()}, ErrProfile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.svc.Issue(ctx, tc.req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Issue = %v, want %v", err, tc.want)
			}
		})
	}
	if certs, _ := env.svc.List(ctx, "", store.Page{}); len(certs) != 0 {
		t.Fatalf("%d certificates stored after refusals", len(certs))
	}
}

func TestIssueFromCSR(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	key := ecKey(t, elliptic.P384())
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := env.svc.IssueFromCSR(ctx, CitizenSigning, der, citizen())
	if err != nil {
		t.Fatal(err)
	}
	if !cert.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Fatal("certificate is not for the CSR's key")
	}
	bad := append([]byte{}, der...)
	bad[len(bad)-5] ^= 0xff // break the signature
	for name, in := range map[string][]byte{"empty": nil, "garbage": []byte("hello"), "bad signature": bad, "huge": make([]byte, 1<<20)} {
		if _, err := env.svc.IssueFromCSR(ctx, CitizenSigning, in, citizen()); !errors.Is(err, ErrBadCSR) {
			t.Errorf("%s: IssueFromCSR = %v, want ErrBadCSR", name, err)
		}
	}
}

func FuzzParseCSR(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	f.Add(der)
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{0x30, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		csr, err := ParseCSR(b)
		if err == nil && csr.CheckSignature() != nil {
			t.Fatal("accepted a CSR whose signature does not verify")
		}
		if err != nil && !errors.Is(err, ErrBadCSR) && !errors.Is(err, ErrProfile) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}

// TestTLSLintsDoNotApply runs the lint sources that issuance skips (TLS and
// code-signing) on every end-entity profile, with each key type a request
// may carry: none of their lints may apply beyond an informational notice,
// or issuance would be skipping a real check.
func TestTLSLintsDoNotApply(t *testing.T) {
	env := newTestEnv(t)
	reg, err := zl.GlobalRegistry().Filter(zl.FilterOptions{IncludeSources: tlsOnlySources})
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	keys := map[string]crypto.PublicKey{"P-256": ecKey(t, elliptic.P256()).Public(), "P-384": ecKey(t, elliptic.P384()).Public(), "RSA-2048": rsaKey.Public()}
	for _, p := range Profiles {
		for kname, pub := range keys {
			s := citizen()
			if p == ESeal {
				s = eseal()
			}
			c, err := env.svc.Issue(context.Background(), Request{Profile: p, PublicKey: pub, Subject: s})
			if err != nil {
				t.Fatal(err)
			}
			zc, err := zx509.ParseCertificate(c.Raw)
			if err != nil {
				t.Fatal(err)
			}
			for name, r := range zlint.LintCertificateEx(zc, reg).Results {
				if r.Status != zl.NA && r.Status != zl.NE && r.Status != zl.Notice {
					t.Errorf("%s with %s: skipped lint %s applies (%s)", p, kname, name, r.Status)
				}
			}
		}
	}
}
