package enrollment

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"rsc.io/qr"

	"github.com/thiqa/thiqa/internal/natid"
	"github.com/thiqa/thiqa/store"
)

// Proofing is what an officer records at the counter.
type Proofing struct {
	NationalID  string `json:"national_id"`
	GivenName   string `json:"given_name"`
	Surname     string `json:"surname"`
	GivenNameAr string `json:"given_name_ar"`
	SurnameAr   string `json:"surname_ar"`
	DateOfBirth string `json:"date_of_birth"` // YYYY-MM-DD
	DocType     string `json:"doc_type"`      // national-id-card or passport
	DocNumber   string `json:"doc_number"`
	DocExpiry   string `json:"doc_expiry"` // YYYY-MM-DD
	DocCheck    string `json:"doc_check"`  // pass or fail
	FaceMatch   string `json:"face_match"` // pass or fail
	// Corrects names a record this one corrects (same national number).
	Corrects string `json:"corrects,omitempty"`
}

// ActivationCode is a one-time code for the citizen, also as a QR code.
type ActivationCode struct {
	Code    string    `json:"code"`
	Purpose string    `json:"purpose"`
	Expires time.Time `json:"expires"`
	QR      []byte    `json:"qr_png"`
}

// Enrolment is the outcome of an in-person check.
type Enrolment struct {
	Record   store.EnrollmentRecord `json:"record"`
	Identity IdentityView           `json:"identity"`
	Code     ActivationCode         `json:"activation"`
}

func checkName(field, v string, latin bool) error {
	n := utf8.RuneCountInString(v)
	if !utf8.ValidString(v) || n == 0 || n > 64 || strings.TrimSpace(v) != v {
		return fmt.Errorf("%w: %s must be 1-64 characters without surrounding spaces", ErrInvalid, field)
	}
	script := unicode.Arabic
	if latin {
		script = unicode.Latin
	}
	for _, r := range v {
		if !unicode.Is(script, r) && r != ' ' && r != '-' && r != '\'' {
			return fmt.Errorf("%w: %s has a character outside its script: %q", ErrInvalid, field, r)
		}
	}
	return nil
}

func parseDate(field, v string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, natid.Digits(v))
	if err != nil {
		return t, fmt.Errorf("%w: %s must be a date YYYY-MM-DD", ErrInvalid, field)
	}
	return t, nil
}

// validate normalises p and checks every field.
func (p *Proofing) validate(now time.Time) error {
	var err error
	if p.NationalID, err = natid.Normalize(p.NationalID); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	for _, f := range []struct {
		name, v string
		latin   bool
	}{{"given_name", p.GivenName, true}, {"surname", p.Surname, true}, {"given_name_ar", p.GivenNameAr, false}, {"surname_ar", p.SurnameAr, false}} {
		if err := checkName(f.name, f.v, f.latin); err != nil {
			return err
		}
	}
	dob, err := parseDate("date_of_birth", p.DateOfBirth)
	if err != nil {
		return err
	}
	if dob.After(now) || dob.Before(now.AddDate(-130, 0, 0)) {
		return fmt.Errorf("%w: date_of_birth out of range", ErrInvalid)
	}
	p.DateOfBirth = dob.Format(time.DateOnly)
	exp, err := parseDate("doc_expiry", p.DocExpiry)
	if err != nil {
		return err
	}
	p.DocExpiry = exp.Format(time.DateOnly)
	if p.DocType != "national-id-card" && p.DocType != "passport" {
		return fmt.Errorf("%w: doc_type must be national-id-card or passport", ErrInvalid)
	}
	p.DocNumber = strings.ToUpper(natid.Digits(strings.TrimSpace(p.DocNumber)))
	if len(p.DocNumber) == 0 || len(p.DocNumber) > 32 {
		return fmt.Errorf("%w: doc_number must be 1-32 characters", ErrInvalid)
	}
	for _, r := range p.DocNumber {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return fmt.Errorf("%w: doc_number must be letters and digits", ErrInvalid)
		}
	}
	for _, f := range []struct{ name, v string }{{"doc_check", p.DocCheck}, {"face_match", p.FaceMatch}} {
		if f.v != "pass" && f.v != "fail" {
			return fmt.Errorf("%w: %s must be pass or fail", ErrInvalid, f.name)
		}
	}
	if len(p.Corrects) > 32 {
		return fmt.Errorf("%w: corrects is too long", ErrInvalid)
	}
	return nil
}

// Enrol records an in-person check by an officer and, when it passed,
// issues an activation code: for a new (or revoked) identity a new
// generation to activate; for an active one a code to add a device, which
// disables the other passkeys when redeemed. Any officer may enrol at their
// own centre; the identity then belongs to that centre.
func (s *Service) Enrol(ctx context.Context, by Principal, p Proofing) (Enrolment, error) {
	var out Enrolment
	if !by.isOfficer() || by.Centre == "" {
		return out, fmt.Errorf("enrol: %w: only an officer of a centre enrols", ErrForbidden)
	}
	now := s.now()
	if err := p.validate(now); err != nil {
		return out, fmt.Errorf("enrol: %w", err)
	}
	if now.After(mustDate(p.DocExpiry).Add(24 * time.Hour)) {
		return out, fmt.Errorf("enrol: %w: the identity document expired on %s", ErrInvalid, p.DocExpiry)
	}
	code, err := s.newCode()
	if err != nil {
		return out, err
	}
	salt, err := s.random(16)
	if err != nil {
		return out, err
	}
	newID, err := s.randomID(18)
	if err != nil {
		return out, err
	}
	passed := p.DocCheck == "pass" && p.FaceMatch == "pass"
	err = s.update(ctx, func(tx store.EnrollmentTx) error {
		out = Enrolment{}
		rec := store.EnrollmentRecord{NationalID: p.NationalID, GivenName: p.GivenName, Surname: p.Surname,
			GivenNameAr: p.GivenNameAr, SurnameAr: p.SurnameAr, DateOfBirth: p.DateOfBirth, DocType: p.DocType,
			DocNumber: p.DocNumber, DocExpiry: p.DocExpiry, Method: "in-person", DocCheck: p.DocCheck,
			FaceMatch: p.FaceMatch, Officer: by.Username, Centre: by.Centre, At: now, Corrects: p.Corrects, Purpose: "enrol"}
		if p.Corrects != "" {
			old, err := tx.Enrollment(p.Corrects)
			if err != nil || old.NationalID != p.NationalID {
				return fmt.Errorf("%w: corrects %q is not a record of this national number", ErrInvalid, p.Corrects)
			}
			rec.Purpose = "correction"
		}
		id, err := tx.Identity(p.NationalID)
		exists := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		purpose := store.CodeActivate
		switch {
		case !exists || id.State == store.IdentityRevoked:
			gen := id.Generation + 1
			id = store.Identity{NationalID: p.NationalID, ID: newID, Generation: gen, State: store.IdentityEnrolled,
				CreatedAt: now, Version: id.Version}
		case id.State == store.IdentityActive || id.State == store.IdentitySuspended:
			if p.GivenName != id.GivenName || p.Surname != id.Surname || p.GivenNameAr != id.GivenNameAr || p.SurnameAr != id.SurnameAr {
				return fmt.Errorf("%w: names differ from the certified ones; revoke and enrol again", ErrState)
			}
			purpose, rec.Purpose = store.CodeAddDevice, "re-proof"
		}
		rec.IdentityID, rec.IdentityGen = id.ID, id.Generation
		if passed {
			rec.CodeIssuedAt = now
		}
		rec, err = tx.AppendEnrollment(rec)
		if err != nil {
			return err
		}
		out.Record = rec
		if !passed {
			return tx.AppendEvent(s.event(by, "proofing-failed", identitySubject(p.NationalID), "", rec.ID))
		}
		id.GivenName, id.Surname, id.GivenNameAr, id.SurnameAr = p.GivenName, p.Surname, p.GivenNameAr, p.SurnameAr
		id.Enrollment, id.Centre, id.UpdatedAt = rec.ID, by.Centre, now
		s.setCode(&id, code, salt, purpose, now)
		if id, err = tx.PutIdentity(id); err != nil {
			return err
		}
		out.Identity = fullView(id, nil)
		return tx.AppendEvent(s.event(by, rec.Purpose, identitySubject(p.NationalID), "", rec.ID+" "+purpose+" code issued"))
	})
	if err != nil {
		return Enrolment{}, fmt.Errorf("enrol: %w", err)
	}
	if !passed {
		return out, fmt.Errorf("enrol %s: %w: record %s kept as evidence", out.Record.ID, ErrProofing, out.Record.ID)
	}
	out.Code, err = s.codeOut(code, out.Identity.NationalID, out.Identity.CodePurpose, now)
	return out, err
}

func mustDate(s string) time.Time {
	t, _ := time.Parse(time.DateOnly, s)
	return t
}

func (s *Service) setCode(id *store.Identity, code string, salt []byte, purpose string, now time.Time) {
	id.CodeSalt, id.CodeHash = salt, codeMAC(salt, code)
	id.CodePurpose, id.CodeExpires = purpose, now.Add(s.opts.CodeTTL)
	id.CodeUsed, id.CodeFailures, id.CodeLocked = false, 0, false
}

func (s *Service) codeOut(code, nid, purpose string, now time.Time) (ActivationCode, error) {
	png, err := qrPNG("thiqa:activate?nid=" + nid + "&code=" + code)
	if err != nil {
		return ActivationCode{}, err
	}
	return ActivationCode{Code: code, Purpose: purpose, Expires: now.Add(s.opts.CodeTTL), QR: png}, nil
}

// ReissueCode issues a new activation code for an identity that is not yet
// active (the old code stops working, and a lock after wrong attempts is
// lifted). Adding a device to an active identity needs a new in-person
// check instead (Enrol).
func (s *Service) ReissueCode(ctx context.Context, by Principal, nationalID string) (ActivationCode, error) {
	nid, err := natid.Normalize(nationalID)
	if err != nil {
		return ActivationCode{}, fmt.Errorf("reissue code: %w: %w", ErrInvalid, err)
	}
	if !by.isOfficer() {
		return ActivationCode{}, fmt.Errorf("reissue code: %w", ErrForbidden)
	}
	code, err := s.newCode()
	if err != nil {
		return ActivationCode{}, err
	}
	salt, err := s.random(16)
	if err != nil {
		return ActivationCode{}, err
	}
	now := s.now()
	err = s.update(ctx, func(tx store.EnrollmentTx) error {
		id, err := tx.Identity(nid)
		if err != nil {
			return notFound(err, "identity")
		}
		if err := by.mayActOn(id); err != nil {
			return err
		}
		if id.State != store.IdentityEnrolled && id.State != store.IdentityActivating {
			return fmt.Errorf("%w: identity is %s", ErrState, id.State)
		}
		s.setCode(&id, code, salt, store.CodeActivate, now)
		id.UpdatedAt = now
		if _, err := tx.PutIdentity(id); err != nil {
			return err
		}
		return tx.AppendEvent(s.event(by, "code-reissue", identitySubject(nid), "", ""))
	})
	if err != nil {
		return ActivationCode{}, fmt.Errorf("reissue code: %w", err)
	}
	return s.codeOut(code, nid, store.CodeActivate, now)
}

// codeAlphabet is Crockford's base32: no I, L, O or U to misread.
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// codeLen characters of 5 bits: 50 bits of entropy.
const codeLen = 10

func (s *Service) newCode() (string, error) {
	b, err := s.random(codeLen)
	if err != nil {
		return "", err
	}
	out := make([]byte, 0, codeLen+1)
	for i, v := range b {
		if i == codeLen/2 {
			out = append(out, '-')
		}
		out = append(out, codeAlphabet[v&31])
	}
	return string(out), nil
}

// normalizeCode maps what a citizen may type to the canonical code: case,
// spaces and dashes, Arabic-Indic digits and Crockford's look-alikes.
func normalizeCode(c string) (string, bool) {
	if len(c) > 64 {
		return "", false
	}
	c = strings.ToUpper(natid.Digits(c))
	var b strings.Builder
	for _, r := range c {
		switch r {
		case ' ', '-':
			continue
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		if !strings.ContainsRune(codeAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != codeLen {
		return "", false
	}
	s := b.String()
	return s[:codeLen/2] + "-" + s[codeLen/2:], true
}

func codeMAC(salt []byte, code string) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(code))
	return m.Sum(nil)
}

// codeMatches compares in constant time.
func codeMatches(id store.Identity, code string) bool {
	return len(id.CodeHash) == sha256.Size && subtle.ConstantTimeCompare(codeMAC(id.CodeSalt, code), id.CodeHash) == 1
}

func qrPNG(text string) ([]byte, error) {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	return c.PNG(), nil
}
