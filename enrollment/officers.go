package enrollment

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/argon2"

	"github.com/thiqa/thiqa/internal/natid"
	"github.com/thiqa/thiqa/store"
)

var (
	centreCode = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,15}$`)
	username   = regexp.MustCompile(`^[a-z][a-z0-9._-]{2,31}$`)
)

// CreateCentre adds a service centre; only administrators may.
func (s *Service) CreateCentre(ctx context.Context, by Principal, c store.Centre) (store.Centre, error) {
	if !by.isAdmin() {
		return c, fmt.Errorf("create centre: %w", ErrForbidden)
	}
	c.Code = strings.ToUpper(strings.TrimSpace(c.Code))
	if !centreCode.MatchString(c.Code) {
		return c, fmt.Errorf("create centre: %w: code %q must be 2-16 of A-Z, 0-9 and -", ErrInvalid, c.Code)
	}
	for _, f := range []struct{ name, v string }{{"name_ar", c.NameAr}, {"name_en", c.NameEn}, {"governorate", c.Governorate}} {
		if f.v == "" || utf8.RuneCountInString(f.v) > 100 || !utf8.ValidString(f.v) {
			return c, fmt.Errorf("create centre: %w: %s must be 1-100 characters", ErrInvalid, f.name)
		}
	}
	c.CreatedAt = s.now()
	err := s.update(ctx, func(tx store.EnrollmentTx) error {
		if err := tx.InsertCentre(c); err != nil {
			return err
		}
		return tx.AppendEvent(s.event(by, "centre-create", "centre:"+c.Code, "", c.NameEn))
	})
	if errors.Is(err, store.ErrDuplicate) {
		return c, fmt.Errorf("create centre %s: %w", c.Code, ErrExists)
	}
	return c, err
}

// Centres lists the centres.
func (s *Service) Centres(ctx context.Context) ([]store.Centre, error) {
	var out []store.Centre
	err := s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) {
		out, err = tx.Centres()
		return err
	})
	return out, err
}

// NewOfficer asks for an officer account.
type NewOfficer struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	Centre   string `json:"centre"`
	Password string `json:"password"`
}

// OfficerEnrolment is what a new officer needs to set up TOTP: the secret
// as an otpauth:// URL (and as a QR code, PNG).
type OfficerEnrolment struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	Centre   string `json:"centre"`
	TOTPURL  string `json:"totp_url"`
	TOTPQR   []byte `json:"totp_qr_png"`
}

// CreateOfficer creates an officer account with its TOTP secret; only
// administrators may. Officers and supervisors belong to a centre.
func (s *Service) CreateOfficer(ctx context.Context, by Principal, n NewOfficer) (OfficerEnrolment, error) {
	var out OfficerEnrolment
	if !by.isAdmin() {
		return out, fmt.Errorf("create officer: %w", ErrForbidden)
	}
	switch {
	case !username.MatchString(n.Username):
		return out, fmt.Errorf("create officer: %w: username must be 3-32 of a-z, 0-9, '.', '_', '-'", ErrInvalid)
	case n.Role != store.RoleOfficer && n.Role != store.RoleSupervisor && n.Role != store.RoleAdmin:
		return out, fmt.Errorf("create officer: %w: role must be officer, supervisor or admin", ErrInvalid)
	case n.Role != store.RoleAdmin && n.Centre == "":
		return out, fmt.Errorf("create officer: %w: an officer or supervisor needs a centre", ErrInvalid)
	case len(n.Password) < 12 || len(n.Password) > 256:
		return out, fmt.Errorf("create officer: %w: password must be 12-256 bytes", ErrInvalid)
	}
	n.Centre = strings.ToUpper(n.Centre)
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Thiqa", AccountName: n.Username, Rand: s.opts.Rand})
	if err != nil {
		return out, fmt.Errorf("create officer: totp: %w", err)
	}
	hash, err := s.hashPassword(n.Password)
	if err != nil {
		return out, fmt.Errorf("create officer: %w", err)
	}
	o := store.Officer{Username: n.Username, Role: n.Role, Centre: n.Centre, PasswordHash: hash,
		CreatedAt: s.now(), CreatedBy: by.actor()}
	if err := s.setTOTPSecret(ctx, &o, key.Secret()); err != nil {
		return out, fmt.Errorf("create officer: %w", err)
	}
	err = s.update(ctx, func(tx store.EnrollmentTx) error {
		if o.Centre != "" {
			if _, err := tx.Centre(o.Centre); err != nil {
				return notFound(err, "centre "+o.Centre)
			}
		}
		if err := tx.InsertOfficer(o); err != nil {
			return err
		}
		return tx.AppendEvent(s.event(by, "officer-create", "officer:"+o.Username, "", o.Role+" at "+o.Centre))
	})
	if errors.Is(err, store.ErrDuplicate) {
		return out, fmt.Errorf("create officer %s: %w", n.Username, ErrExists)
	}
	if err != nil {
		return out, fmt.Errorf("create officer: %w", err)
	}
	png, err := qrPNG(key.URL())
	if err != nil {
		return out, fmt.Errorf("create officer: %w", err)
	}
	return OfficerEnrolment{Username: o.Username, Role: o.Role, Centre: o.Centre, TOTPURL: key.URL(), TOTPQR: png}, nil
}

// DisableOfficer closes an officer account at once (an officer leaving,
// a lost phone with the TOTP app): its sessions stop working. Only
// administrators may, and not on their own account.
func (s *Service) DisableOfficer(ctx context.Context, by Principal, user, why string) error {
	why, err := checkWhy(why)
	if err != nil {
		return fmt.Errorf("disable officer: %w", err)
	}
	if !by.isAdmin() {
		return fmt.Errorf("disable officer: %w", ErrForbidden)
	}
	if by.Kind == KindOfficer && by.Username == user {
		return fmt.Errorf("disable officer: %w: not one's own account", ErrForbidden)
	}
	err = s.update(ctx, func(tx store.EnrollmentTx) error {
		o, err := tx.Officer(user)
		if err != nil {
			return notFound(err, "officer "+user)
		}
		if o.Disabled {
			return fmt.Errorf("%w: officer %s is disabled already", ErrState, user)
		}
		o.Disabled = true
		if err := tx.PutOfficer(o); err != nil {
			return err
		}
		return tx.AppendEvent(s.event(by, "officer-disable", "officer:"+user, why, ""))
	})
	if err != nil {
		return fmt.Errorf("disable officer: %w", err)
	}
	return nil
}

// hashPassword returns the PHC string of an argon2id hash of pw.
func (s *Service) hashPassword(pw string) (string, error) {
	salt, err := s.random(16)
	if err != nil {
		return "", err
	}
	p := s.opts.Argon2
	h := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		enc.EncodeToString(salt), enc.EncodeToString(h)), nil
}

// checkPassword verifies pw against a PHC string made by hashPassword.
// Parameters are bounded so that a corrupt record cannot make it hang.
func checkPassword(phc, pw string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 10 || p == 0 || t == 0 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) != 32 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, 32)
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked when the username is unknown, so that timing does
// not tell which usernames exist.
const dummyHash = "$argon2id$v=19$m=16384,t=1,p=2$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// totpStep returns the time step of a valid, unused code, or -1.
func totpStep(secret, code string, last int64, now time.Time) int64 {
	code = natid.Digits(strings.TrimSpace(code))
	if len(code) != 6 {
		return -1
	}
	if _, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret)); err != nil {
		return -1
	}
	step := now.Unix() / 30
	for _, st := range []int64{step - 1, step, step + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(st*30, 0), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err == nil && st > last && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return st
		}
	}
	return -1
}

// totpOwner is the owner of an officer's sealed TOTP secret in key custody.
func totpOwner(user string) string { return "officer:" + user }

// setTOTPSecret records secret in o: sealed when the service has a Sealer,
// else in clear.
func (s *Service) setTOTPSecret(ctx context.Context, o *store.Officer, secret string) error {
	if s.opts.Sealer == nil {
		o.TOTPSecret, o.TOTPSealed = secret, nil
		return nil
	}
	sealed, err := s.opts.Sealer.Seal(ctx, totpOwner(o.Username), []byte(secret))
	if err != nil {
		return fmt.Errorf("seal TOTP secret: %w", err)
	}
	o.TOTPSecret, o.TOTPSealed = "", sealed
	return nil
}

// SealTOTPSecrets seals every officer's TOTP secret still stored in clear
// (accounts made before secrets were sealed); thiqa serve runs it at
// start. It returns how many it sealed; without a Sealer it does nothing.
func (s *Service) SealTOTPSecrets(ctx context.Context) (int, error) {
	if s.opts.Sealer == nil {
		return 0, nil
	}
	n, after := 0, ""
	for {
		var page []store.Officer
		err := s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) {
			page, err = tx.Officers(after, 100)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("seal TOTP secrets: %w", err)
		}
		for _, o := range page {
			if o.TOTPSecret == "" {
				continue
			}
			sealed := o
			if err := s.setTOTPSecret(ctx, &sealed, o.TOTPSecret); err != nil {
				return n, fmt.Errorf("seal TOTP secrets: %w", err)
			}
			done := false
			err := s.st.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
				cur, err := tx.Officer(o.Username)
				if err != nil || cur.TOTPSecret != o.TOTPSecret {
					done = false
					return err // sealed meanwhile (a sign-in)
				}
				cur.TOTPSecret, cur.TOTPSealed, done = "", sealed.TOTPSealed, true
				return tx.PutOfficer(cur)
			})
			if err != nil {
				return n, fmt.Errorf("seal TOTP secret of %s: %w", o.Username, err)
			}
			if done {
				n++
			}
		}
		if len(page) < 100 {
			return n, nil
		}
		after = page[len(page)-1].Username
	}
}

// totpSecret returns an officer's TOTP secret, opening it when sealed.
func (s *Service) totpSecret(ctx context.Context, o store.Officer) (string, error) {
	if o.TOTPSealed == nil {
		return o.TOTPSecret, nil
	}
	if s.opts.Sealer == nil {
		return "", errors.New("open TOTP secret: sealed, and no sealer configured")
	}
	b, err := s.opts.Sealer.Open(ctx, totpOwner(o.Username), o.TOTPSealed)
	if err != nil {
		return "", fmt.Errorf("open TOTP secret: %w", err)
	}
	return string(b), nil
}

// SessionToken is an opened session: the bearer token (shown once; only
// its hash is stored) and its expiry.
type SessionToken struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// OfficerSignIn checks an officer's password and TOTP code and opens a
// session. Each failure counts; after Options.SignInFailures in a row the
// account is locked for Options.LockFor. A TOTP code is accepted once.
func (s *Service) OfficerSignIn(ctx context.Context, user, password, code string) (SessionToken, Principal, error) {
	var o store.Officer
	err := s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) {
		o, err = tx.Officer(user)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || len(user) > 64 {
		checkPassword(dummyHash, password)
		return SessionToken{}, Principal{}, fmt.Errorf("officer sign-in: %w", ErrBadCredentials)
	}
	if err != nil {
		return SessionToken{}, Principal{}, fmt.Errorf("officer sign-in: %w", err)
	}
	now := s.now()
	if o.Disabled {
		return SessionToken{}, Principal{}, fmt.Errorf("officer sign-in %s: %w: account disabled", user, ErrLocked)
	}
	if now.Before(o.LockedUntil) {
		return SessionToken{}, Principal{}, fmt.Errorf("officer sign-in %s: %w until %s", user, ErrLocked, o.LockedUntil.Format(time.RFC3339))
	}
	pwOK := len(password) <= 256 && checkPassword(o.PasswordHash, password)
	var secret string
	if pwOK {
		// Opened (and, when still in clear, sealed) before the transaction,
		// so that no custody call holds it open.
		if secret, err = s.totpSecret(ctx, o); err != nil {
			return SessionToken{}, Principal{}, fmt.Errorf("officer sign-in %s: %w", user, err)
		}
		if o.TOTPSecret != "" && s.opts.Sealer != nil {
			sealed := o
			if err := s.setTOTPSecret(ctx, &sealed, secret); err != nil {
				return SessionToken{}, Principal{}, fmt.Errorf("officer sign-in %s: %w", user, err)
			}
			o.TOTPSealed = sealed.TOTPSealed
		}
	}
	tok, hash, err := s.newToken()
	if err != nil {
		return SessionToken{}, Principal{}, err
	}
	p := Principal{Kind: KindOfficer, Username: o.Username, Role: o.Role, Centre: o.Centre, AuthTime: now}
	var result error
	err = s.update(ctx, func(tx store.EnrollmentTx) error {
		result = nil
		cur, err := tx.Officer(user)
		if err != nil {
			return err
		}
		if now.Before(cur.LockedUntil) || cur.Disabled {
			result = fmt.Errorf("officer sign-in %s: %w", user, ErrLocked)
			return nil
		}
		step := int64(-1)
		if pwOK { // an officer's TOTP secret never changes
			step = totpStep(secret, code, cur.TOTPLastStep, now)
		}
		if step < 0 {
			cur.Failures++
			result = fmt.Errorf("officer sign-in: %w", ErrBadCredentials)
			why := "wrong password or code"
			if cur.Failures >= s.opts.SignInFailures {
				cur.LockedUntil, cur.Failures = now.Add(s.opts.LockFor), 0
				result = fmt.Errorf("officer sign-in %s: %w", user, ErrLocked)
				why = "locked after repeated failures"
			}
			if err := tx.PutOfficer(cur); err != nil {
				return err
			}
			return tx.AppendEvent(store.Event{At: now, Actor: "officer:" + user, Action: "signin-failed", Subject: "officer:" + user, Why: why})
		}
		cur.Failures, cur.TOTPLastStep = 0, step
		if cur.TOTPSecret != "" && o.TOTPSealed != nil {
			cur.TOTPSecret, cur.TOTPSealed = "", o.TOTPSealed
		}
		if err := tx.PutOfficer(cur); err != nil {
			return err
		}
		if _, err := tx.PurgeExpired(hash, purgeBatch, now); err != nil {
			return err
		}
		if err := tx.AppendEvent(store.Event{At: now, Actor: "officer:" + user, Action: "signin", Subject: "officer:" + user, Detail: cur.Role + " at " + cur.Centre}); err != nil {
			return err
		}
		return tx.PutSession(store.Session{Hash: hash, Kind: store.SessionOfficer, Subject: cur.Username, Role: cur.Role,
			Centre: cur.Centre, Created: now, Expires: now.Add(s.opts.OfficerSessionTTL)})
	})
	if err == nil {
		err = result
	}
	if err != nil {
		return SessionToken{}, Principal{}, err
	}
	return SessionToken{Token: tok, Expires: now.Add(s.opts.OfficerSessionTTL)}, p, nil
}

// newToken draws a session token and its hash.
func (s *Service) newToken() (string, []byte, error) {
	b, err := s.random(32)
	if err != nil {
		return "", nil, err
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(tok))
	return tok, h[:], nil
}

// Authenticate returns the principal of a session token. A citizen's
// session ends when the identity is revoked or re-enrolled or the passkey
// that opened it is disabled.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" || len(token) > 128 {
		return Principal{}, ErrUnauthenticated
	}
	h := sha256.Sum256([]byte(token))
	var p Principal
	err := s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
		sess, err := tx.Session(h[:])
		if err != nil {
			return ErrUnauthenticated
		}
		if subtle.ConstantTimeCompare(sess.Hash, h[:]) != 1 || !s.now().Before(sess.Expires) {
			return ErrUnauthenticated
		}
		switch sess.Kind {
		case store.SessionOfficer:
			o, err := tx.Officer(sess.Subject)
			if err != nil || o.Disabled || o.Role != sess.Role || o.Centre != sess.Centre {
				return ErrUnauthenticated
			}
			p = Principal{Kind: KindOfficer, Username: o.Username, Role: o.Role, Centre: o.Centre, AuthTime: sess.Created}
			return nil
		case store.SessionCitizen:
			id, err := tx.IdentityByID(sess.Subject)
			if err != nil || id.ID != sess.Subject || id.State == store.IdentityRevoked || !activePasskey(id, sess.Credential) {
				return ErrUnauthenticated
			}
			p = Principal{Kind: KindCitizen, IdentityID: id.ID, NationalID: id.NationalID, Credential: sess.Credential, AuthTime: sess.Created}
			return nil
		}
		return ErrUnauthenticated
	})
	return p, err
}

func activePasskey(id store.Identity, cred []byte) bool {
	for _, c := range id.Credentials {
		if bytes.Equal(c.ID, cred) {
			return !c.Disabled
		}
	}
	return false
}

// SignOut ends the session of token.
func (s *Service) SignOut(ctx context.Context, token string) error {
	h := sha256.Sum256([]byte(token))
	return s.update(ctx, func(tx store.EnrollmentTx) error { return tx.DeleteSession(h[:]) })
}
