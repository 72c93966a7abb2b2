package signing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/store"
)

// Four eyes on agency keys.
//
// An agency's API key lets it send documents to every citizen, so
// administrators on the web do not issue one alone: one asks
// ([Service.RequestAgency]), another approves ([Service.DecideAgency]) and
// is shown the key once. Requests are kept as blobs of the signing store
// under agencyRequestPrefix, like the CSC authorizations.

// Agency request states.
const (
	AgencyPending  = "pending"
	AgencyApproved = "approved"
	AgencyRejected = "rejected"
)

// AgencyRequest is an agency registration asked by an administrator.
type AgencyRequest struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Scopes      []string  `json:"scopes"`
	WebhookURL  string    `json:"webhook_url,omitempty"`
	Why         string    `json:"why"`
	RequestedBy string    `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
	Status      string    `json:"status"`
	DecidedBy   string    `json:"decided_by,omitempty"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
	// AgencyID is the registered agency's ID once approved; for a key
	// rotation, the agency's ID from the start.
	AgencyID string `json:"agency_id,omitempty"`
	// Kind is "" for a registration, AgencyKindRotate for a new key of
	// an existing agency.
	Kind string `json:"kind,omitempty"`
}

// AgencyKindRotate is an AgencyRequest for a new API key of a registered
// agency (the old key stops working when it is approved).
const AgencyKindRotate = "rotate-key"

const agencyRequestPrefix = "agency-request/"

// maxAgencyRequests bounds the list of pending requests.
const maxAgencyRequests = 200

// adminActor returns "officer:<username>" for an administrator, or an
// error for anyone else.
func adminActor(by enrollment.Principal) (string, error) {
	if by.Kind != enrollment.KindOfficer || by.Role != store.RoleAdmin || by.Username == "" {
		return "", fmt.Errorf("%w: administrators only", ErrForbidden)
	}
	return "officer:" + by.Username, nil
}

// RequestAgency records an administrator's request to register an agency
// (no certificate for mutual TLS: that is the operator's AddAgency). No
// key exists until another administrator approves.
func (s *Service) RequestAgency(ctx context.Context, by enrollment.Principal, n NewAgency, why string) (AgencyRequest, error) {
	fail := func(err error) (AgencyRequest, error) { return AgencyRequest{}, fmt.Errorf("request agency: %w", err) }
	actor, err := adminActor(by)
	if err != nil {
		return fail(err)
	}
	if err := checkAgency(&n); err != nil {
		return fail(err)
	}
	if len(n.CertDER) > 0 {
		return fail(fmt.Errorf("%w: an agency with a certificate is added by the operator", ErrInvalid))
	}
	if why == "" || len(why) > 500 {
		return fail(fmt.Errorf("%w: a reason (1-500 bytes) is required", ErrInvalid))
	}
	id, err := s.randomID(12)
	if err != nil {
		return fail(err)
	}
	r := AgencyRequest{ID: id, Name: n.Name, Scopes: slices.Clone(n.Scopes), WebhookURL: n.WebhookURL, Why: why,
		RequestedBy: actor, RequestedAt: s.now(), Status: AgencyPending}
	err = s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		if _, err := tx.AgencyByName(n.Name); err == nil {
			return fmt.Errorf("%w: an agency named %q", ErrExists, n.Name)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return putAgencyRequest(tx, r)
	})
	if err != nil {
		return fail(err)
	}
	return r, nil
}

func putAgencyRequest(tx store.SigningTx, r AgencyRequest) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.PutBlob(agencyRequestPrefix+r.ID, b)
}

func getAgencyRequest(tx store.SigningTx, id string) (AgencyRequest, error) {
	var r AgencyRequest
	if id == "" || len(id) > 64 {
		return r, fmt.Errorf("%w: agency request", ErrNotFound)
	}
	b, err := tx.Blob(agencyRequestPrefix + id)
	if errors.Is(err, store.ErrNotFound) {
		return r, fmt.Errorf("%w: agency request", ErrNotFound)
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil || r.ID != id {
		return r, fmt.Errorf("agency request %s: corrupt record", id)
	}
	return r, nil
}

// AgencyRequests lists the pending agency requests, for administrators.
func (s *Service) AgencyRequests(ctx context.Context, by enrollment.Principal) ([]AgencyRequest, error) {
	if _, err := adminActor(by); err != nil {
		return nil, fmt.Errorf("agency requests: %w", err)
	}
	var out []AgencyRequest
	err := s.st.SigningView(ctx, func(tx store.SigningTx) error {
		keys, err := tx.BlobKeys(agencyRequestPrefix, 10*maxAgencyRequests)
		if err != nil {
			return err
		}
		for _, k := range keys {
			r, err := getAgencyRequest(tx, k[len(agencyRequestPrefix):])
			if err != nil {
				return err
			}
			if r.Status == AgencyPending && len(out) < maxAgencyRequests {
				out = append(out, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("agency requests: %w", err)
	}
	return out, nil
}

// DecideAgency approves or rejects a pending agency request: an
// administrator other than the requester. On approval the agency is
// registered in the same transaction and its key returned, to be shown
// once.
func (s *Service) DecideAgency(ctx context.Context, by enrollment.Principal, id string, approve bool) (AgencyRequest, *AgencyKey, error) {
	fail := func(err error) (AgencyRequest, *AgencyKey, error) {
		return AgencyRequest{}, nil, fmt.Errorf("decide agency request: %w", err)
	}
	actor, err := adminActor(by)
	if err != nil {
		return fail(err)
	}
	var r AgencyRequest
	var key *AgencyKey
	var kept *audit.Event
	err = s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		kept = nil
		var err error
		if r, err = getAgencyRequest(tx, id); err != nil {
			return err
		}
		switch {
		case r.Status != AgencyPending:
			return fmt.Errorf("%w: request is %s", ErrState, r.Status)
		case r.RequestedBy == actor:
			return fmt.Errorf("%w: four eyes: the requester cannot approve", ErrForbidden)
		}
		r.Status, r.DecidedBy, r.DecidedAt, key = AgencyRejected, actor, s.now(), nil
		if approve && r.Kind == AgencyKindRotate {
			k, err := s.rotateKey(tx, r.AgencyID)
			if err != nil {
				return err
			}
			r.Status, key = AgencyApproved, &k
		} else if approve {
			k, err := s.newAgency(NewAgency{Name: r.Name, Scopes: r.Scopes, WebhookURL: r.WebhookURL})
			if err != nil {
				return err
			}
			if err := insertAgency(tx, k.Agency); err != nil {
				return err
			}
			r.Status, r.AgencyID, key = AgencyApproved, k.Agency.ID, &k
		}
		if err := putAgencyRequest(tx, r); err != nil {
			return err
		}
		switch {
		case key != nil && r.Kind == AgencyKindRotate:
			kept, err = s.keepAudit(tx, agencySource, agencyEvent(actor, "agency.key-rotated", key.Agency, map[string]any{"requested_by": r.RequestedBy, "why": r.Why}))
		case key != nil:
			more := addedDetails(key.Agency)
			more["requested_by"], more["why"] = r.RequestedBy, r.Why
			kept, err = s.keepAudit(tx, agencySource, agencyEvent(actor, "agency.added", key.Agency, more))
		}
		return err
	})
	if err != nil {
		return fail(err)
	}
	if err := s.appendKept(ctx, kept); err != nil {
		return fail(err)
	}
	if key != nil && r.Kind == AgencyKindRotate {
		key.Agency.KeyHash, key.Agency.WebhookSecret = nil, nil
	}
	return r, key, nil
}

// RequestAgencyKeyRotation records an administrator's request for a new
// API key of a registered agency (by ID), with the reason; the key is
// replaced when another administrator approves with DecideAgency, who is
// shown the new key once.
func (s *Service) RequestAgencyKeyRotation(ctx context.Context, by enrollment.Principal, agencyID, why string) (AgencyRequest, error) {
	fail := func(err error) (AgencyRequest, error) {
		return AgencyRequest{}, fmt.Errorf("request agency key rotation: %w", err)
	}
	actor, err := adminActor(by)
	if err != nil {
		return fail(err)
	}
	if why == "" || len(why) > 500 {
		return fail(fmt.Errorf("%w: a reason (1-500 bytes) is required", ErrInvalid))
	}
	id, err := s.randomID(12)
	if err != nil {
		return fail(err)
	}
	var r AgencyRequest
	err = s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		a, err := tx.Agency(agencyID)
		if errors.Is(err, store.ErrNotFound) || agencyID == "" {
			return fmt.Errorf("%w: no agency %q", ErrNotFound, agencyID)
		} else if err != nil {
			return err
		}
		r = AgencyRequest{ID: id, Kind: AgencyKindRotate, AgencyID: a.ID, Name: a.Name, Scopes: slices.Clone(a.Scopes), Why: why,
			RequestedBy: actor, RequestedAt: s.now(), Status: AgencyPending}
		return putAgencyRequest(tx, r)
	})
	if err != nil {
		return fail(err)
	}
	return r, nil
}
