package enrollment

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/thiqa/thiqa/store"
)

func importRecord(nid string) ImportRecord {
	return ImportRecord{NationalID: nid, GivenName: "Layla", Surname: "Haddad", GivenNameAr: "ليلى", SurnameAr: "حداد",
		DateOfBirth: "1990-04-12", DocType: "national-id-card", DocNumber: "ab123456", DocExpiry: "2030-01-01",
		Centre: "AMM-01", Officer: "registry clerk 7", Method: "in-person", Result: "pass", ProofedAt: "2026-01-15T09:30:00+03:00"}
}

// TestImportThenActivate imports an identity, checks that a second import
// skips it and that an officer of another centre may not act on it, then
// has an officer of its centre issue the activation code with which the
// citizen activates and signs in, as a citizen enrolled at the counter
// would.
func TestImportThenActivate(t *testing.T) {
	e := newEnv(t)
	e.centre(t, "AMM-01")
	e.centre(t, "IRB-01")
	const nid = "9861234567"
	if _, err := e.svc.Import(ctx, e.officer(t, "omar", store.RoleOfficer, "AMM-01"), []ImportRecord{importRecord(nid)}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("officer import = %v, want ErrForbidden", err)
	}
	res, err := e.svc.Import(ctx, Operator("test"), []ImportRecord{importRecord(nid), importRecord("١٢٣")})
	if err != nil || res.Outcomes[0] != Imported || res.Outcomes[1] != Refused || !errors.Is(res.Errs[1], ErrInvalid) {
		t.Fatalf("Import = %+v, %v", res, err)
	}
	if res, err := e.svc.Import(ctx, Operator("test"), []ImportRecord{importRecord(nid)}); err != nil || res.Count(Skipped) != 1 {
		t.Fatalf("second Import = %+v, %v", res, err)
	}
	id := e.identity(t, nid)
	if id.State != store.IdentityEnrolled || id.Centre != "AMM-01" || len(id.CodeHash) != 0 {
		t.Fatalf("imported identity = %+v", id)
	}
	var recs []store.EnrollmentRecord
	e.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) { recs, err = tx.Enrollments(nid); return err })
	if len(recs) != 1 || recs[0].Purpose != ImportPurpose || recs[0].Officer != "registry clerk 7" || recs[0].At.Format("15:04") != "06:30" {
		t.Fatalf("import records = %+v", recs)
	}
	if _, err := e.svc.ReissueCode(ctx, e.officer(t, "huda", store.RoleOfficer, "IRB-01"), nid); !errors.Is(err, ErrForbidden) {
		t.Fatalf("code from another centre = %v, want ErrForbidden", err)
	}
	code, err := e.svc.ReissueCode(ctx, e.officer(t, "sara", store.RoleOfficer, "AMM-01"), nid)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := e.activate(t, nid, code.Code)
	if _, who, err := e.signIn(t, p); err != nil || who.NationalID != nid {
		t.Fatalf("sign-in after activation = %+v, %v", who, err)
	}
}

// FuzzImportCheck feeds arbitrary records, as read from an import file, to
// the import's checks: no panic, and a record that passes has a ten-digit
// national number, a known document type and a pass result.
func FuzzImportCheck(f *testing.F) {
	for _, r := range []ImportRecord{importRecord("9861234567"), importRecord("٩٨٦١٢٣٤٥٦٧"), {}} {
		b, _ := json.Marshal(r)
		f.Add(b)
	}
	f.Add([]byte(`{"national_id":"98612345678","proofed_at":"2026-13-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r ImportRecord
		if json.Unmarshal(data, &r) != nil {
			return
		}
		p, _, err := r.check(testNow)
		if err != nil {
			return
		}
		if len(p.NationalID) != 10 || (p.DocType != "national-id-card" && p.DocType != "passport") || r.Result != "pass" {
			t.Fatalf("accepted %+v", r)
		}
	})
}
