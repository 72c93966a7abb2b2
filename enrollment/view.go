package enrollment

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/thiqa/thiqa/internal/natid"
	"github.com/thiqa/thiqa/store"
)

// IdentityView is what a principal may see of an identity. Officers of
// another centre see only the national number, state and centre.
type IdentityView struct {
	NationalID  string                   `json:"national_id"`
	State       string                   `json:"state"`
	Centre      string                   `json:"centre"`
	Generation  int                      `json:"generation,omitempty"`
	GivenName   string                   `json:"given_name,omitempty"`
	Surname     string                   `json:"surname,omitempty"`
	GivenNameAr string                   `json:"given_name_ar,omitempty"`
	SurnameAr   string                   `json:"surname_ar,omitempty"`
	SigningCert string                   `json:"signing_cert,omitempty"`
	AuthCert    string                   `json:"auth_cert,omitempty"`
	CodePurpose string                   `json:"code_purpose,omitempty"`
	CodeLocked  bool                     `json:"code_locked,omitempty"`
	Devices     []Device                 `json:"devices,omitempty"`
	Records     []store.EnrollmentRecord `json:"records,omitempty"`
	Events      []store.Event            `json:"events,omitempty"`
	Limited     bool                     `json:"limited,omitempty"`
}

// Device is a passkey as shown to people.
type Device struct {
	ID             string    `json:"id"` // base64url credential ID
	Name           string    `json:"name"`
	AAGUID         string    `json:"aaguid"`
	BackupEligible bool      `json:"backup_eligible"`
	BackedUp       bool      `json:"backed_up"`
	Created        time.Time `json:"created"`
	LastUsed       time.Time `json:"last_used,omitzero"`
	Disabled       bool      `json:"disabled,omitempty"`
}

func devices(id store.Identity) []Device {
	var out []Device
	for _, c := range id.Credentials {
		out = append(out, Device{ID: base64.RawURLEncoding.EncodeToString(c.ID), Name: c.Name,
			AAGUID: fmt.Sprintf("%x", c.AAGUID), BackupEligible: c.BackupEligible, BackedUp: c.BackupState,
			Created: c.CreatedAt, LastUsed: c.LastUsed, Disabled: c.Disabled})
	}
	return out
}

func fullView(id store.Identity, recs []store.EnrollmentRecord) IdentityView {
	v := IdentityView{NationalID: id.NationalID, State: id.State, Centre: id.Centre, Generation: id.Generation,
		GivenName: id.GivenName, Surname: id.Surname, GivenNameAr: id.GivenNameAr, SurnameAr: id.SurnameAr,
		SigningCert: id.SigningCert, AuthCert: id.AuthCert, Devices: devices(id), Records: recs, CodeLocked: id.CodeLocked}
	if !id.CodeUsed && len(id.CodeHash) > 0 {
		v.CodePurpose = id.CodePurpose
	}
	return v
}

// Identity returns what the principal may see of the identity with the
// given national number: everything for an admin, for an officer of the
// identity's centre and for the citizen themself (supervisors and admins
// also see its event trail); the state alone for officers of other
// centres.
func (s *Service) Identity(ctx context.Context, by Principal, nationalID string) (IdentityView, error) {
	nid, err := natid.Normalize(nationalID)
	if err != nil {
		return IdentityView{}, fmt.Errorf("identity: %w: %w", ErrInvalid, err)
	}
	var v IdentityView
	err = s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
		id, err := tx.Identity(nid)
		if err != nil {
			return notFound(err, "identity")
		}
		if err := by.mayActOn(id); err != nil {
			if by.Kind != KindOfficer {
				return err
			}
			v = IdentityView{NationalID: id.NationalID, State: id.State, Centre: id.Centre, Limited: true}
			return nil
		}
		recs, err := tx.Enrollments(nid)
		if err != nil {
			return err
		}
		v = fullView(id, recs)
		if by.isAdmin() || by.Role == store.RoleSupervisor {
			v.Events, err = tx.Events(identitySubject(nid))
		}
		return err
	})
	if err != nil {
		return IdentityView{}, fmt.Errorf("identity: %w", err)
	}
	return v, nil
}

// Me returns the signed-in citizen's own identity.
func (s *Service) Me(ctx context.Context, by Principal) (IdentityView, error) {
	if by.Kind != KindCitizen {
		return IdentityView{}, fmt.Errorf("me: %w", ErrForbidden)
	}
	return s.Identity(ctx, by, by.NationalID)
}
