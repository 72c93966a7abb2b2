package enrollment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/thiqa/thiqa/store"
)

// Four eyes on administrator accounts.
//
// An administrator can create officers and supervisors alone, but another
// administrator account only with a second administrator: one asks
// ([Service.RequestAdmin]), another approves ([Service.DecideAdmin]),
// which creates the account with a random first password and a TOTP
// secret, shown once to the approver. The request is an approval record
// like a revocation's, with Action ActionCreateAdmin.

// Approval actions.
const (
	ActionRevoke      = "revoke"
	ActionCreateAdmin = "create-admin"
)

// AdminCreated is an approved administrator account: what to hand to the
// new administrator, shown once.
type AdminCreated struct {
	Approval store.Approval
	Officer  OfficerEnrolment
	// Password is the account's first password.
	Password string
}

func (p Principal) isAdminOfficer() bool { return p.Kind == KindOfficer && p.Role == store.RoleAdmin }

// RequestAdmin records an administrator's request to create the
// administrator account username (at centre, which may be empty).
func (s *Service) RequestAdmin(ctx context.Context, by Principal, user, centre, why string) (store.Approval, error) {
	fail := func(err error) (store.Approval, error) { return store.Approval{}, fmt.Errorf("request admin: %w", err) }
	if !by.isAdminOfficer() {
		return fail(fmt.Errorf("%w: administrators only", ErrForbidden))
	}
	if !username.MatchString(user) {
		return fail(fmt.Errorf("%w: username must be 3-32 of a-z, 0-9, '.', '_', '-'", ErrInvalid))
	}
	why, err := checkWhy(why)
	if err != nil {
		return fail(err)
	}
	id, err := s.randomID(12)
	if err != nil {
		return fail(err)
	}
	centre = strings.ToUpper(centre)
	a := store.Approval{ID: id, Action: ActionCreateAdmin, Username: user, Centre: centre, Why: why,
		RequestedBy: by.actor(), RequestedAt: s.now(), Status: "pending"}
	err = s.update(ctx, func(tx store.EnrollmentTx) error {
		if _, err := tx.Officer(user); err == nil {
			return fmt.Errorf("%w: officer %s", ErrExists, user)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if centre != "" {
			if _, err := tx.Centre(centre); err != nil {
				return notFound(err, "centre "+centre)
			}
		}
		if err := tx.PutApproval(a); err != nil {
			return err
		}
		return tx.AppendEvent(s.event(by, "admin-request", "officer:"+user, why, "approval "+id))
	})
	if err != nil {
		return fail(err)
	}
	return a, nil
}

// AdminRequests lists the pending administrator account requests, for
// administrators.
func (s *Service) AdminRequests(ctx context.Context, by Principal) ([]store.Approval, error) {
	if !by.isAdminOfficer() {
		return nil, fmt.Errorf("admin requests: %w", ErrForbidden)
	}
	var out []store.Approval
	err := s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
		all, err := tx.Approvals("pending", maxPending)
		for _, a := range all {
			if a.Action == ActionCreateAdmin {
				out = append(out, a)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("admin requests: %w", err)
	}
	return out, nil
}

// DecideAdmin approves or rejects a pending administrator account
// request: an administrator other than the requester. On approval the
// account is created (CreateOfficer) with a random first password.
func (s *Service) DecideAdmin(ctx context.Context, by Principal, approvalID string, approve bool) (AdminCreated, error) {
	fail := func(err error) (AdminCreated, error) {
		return AdminCreated{}, fmt.Errorf("decide admin request: %w", err)
	}
	if !by.isAdminOfficer() {
		return fail(fmt.Errorf("%w: administrators only", ErrForbidden))
	}
	a, err := s.pendingAdminRequest(ctx, by, approvalID)
	if err != nil {
		return fail(err)
	}
	var out AdminCreated
	// The decision is recorded first, so that two administrators cannot
	// both act on it; a failed creation puts the request back.
	decide := func(status, decidedBy string) error {
		return s.update(ctx, func(tx store.EnrollmentTx) error {
			cur, err := tx.Approval(approvalID)
			if err != nil {
				return notFound(err, "approval")
			}
			want := "pending"
			if status == "pending" {
				want = "approved"
			}
			if cur.Status != want {
				return fmt.Errorf("%w: request is %s", ErrState, cur.Status)
			}
			cur.DecidedBy, cur.DecidedAt, cur.Status = decidedBy, s.now(), status
			if status == "pending" {
				cur.DecidedAt = time.Time{}
			}
			if err := tx.PutApproval(cur); err != nil {
				return err
			}
			out.Approval = cur
			return tx.AppendEvent(s.event(by, "admin-"+status, "officer:"+cur.Username, cur.Why, "approval "+cur.ID))
		})
	}
	status := "rejected"
	if approve {
		status = "approved"
	}
	if err := decide(status, by.actor()); err != nil {
		return fail(err)
	}
	if !approve {
		return out, nil
	}
	if out.Password, err = s.randomID(18); err == nil {
		out.Officer, err = s.CreateOfficer(ctx, by, NewOfficer{Username: a.Username, Role: store.RoleAdmin, Centre: a.Centre, Password: out.Password})
	}
	if err != nil {
		if undo := decide("pending", ""); undo != nil {
			return fail(fmt.Errorf("%w (and the request could not be put back: %w)", err, undo))
		}
		return fail(err)
	}
	return out, nil
}

// pendingAdminRequest loads a pending administrator request that by may
// decide.
func (s *Service) pendingAdminRequest(ctx context.Context, by Principal, id string) (store.Approval, error) {
	var a store.Approval
	err := s.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) {
		a, err = tx.Approval(id)
		return notFound(err, "approval")
	})
	switch {
	case err != nil:
		return a, err
	case a.Action != ActionCreateAdmin:
		return a, fmt.Errorf("%w: approval", ErrNotFound)
	case a.Status != "pending":
		return a, fmt.Errorf("%w: request is %s", ErrState, a.Status)
	case a.RequestedBy == by.actor():
		return a, fmt.Errorf("%w: four eyes: the requester cannot approve", ErrForbidden)
	}
	return a, nil
}
