package signing

import (
	"context"
	"fmt"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/store"
)

// recoverBatch bounds the requests one Recover call looks at.
const recoverBatch = 100

// Recover finds the requests left in state signing for longer than
// Options.RecoverAfter, which a process killed between the approval and
// the stored signed documents leaves behind, and puts each back to pending
// so that the citizen approves again (or to expired, when the request
// has). It returns how many it moved.
//
// It does not finish the signing: an approval is a capability held in
// memory by the process that verified the passkey assertion (see
// enrollment.Approval), and it is never stored, so that nothing in the
// store can make a citizen's key sign. Signatures that the killed process
// may have made were never stored and are not used; and were the process
// only slow, its stored result is refused (the request's version moved),
// so a request is signed at most once.
func (s *Service) Recover(ctx context.Context) (int, error) {
	var stuck []store.SignRequest
	err := s.st.SigningView(ctx, func(tx store.SigningTx) (err error) {
		stuck, err = tx.SignRequestsInState(store.SignSigning, recoverBatch)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("recover: %w", err)
	}
	n := 0
	for _, r := range stuck {
		if s.now().Sub(r.SigningSince) < s.opts.RecoverAfter {
			continue
		}
		moved, err := s.recoverOne(ctx, r)
		if err != nil {
			return n, fmt.Errorf("recover %s: %w", r.ID, err)
		}
		if moved {
			n++
		}
	}
	return n, nil
}

func (s *Service) recoverOne(ctx context.Context, r store.SignRequest) (bool, error) {
	var saved store.SignRequest
	var kept *audit.Event
	moved, queued := false, false
	err := s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		moved, queued, kept = false, false, nil
		cur, err := tx.SignRequest(r.ID)
		if err != nil || cur.Version != r.Version || cur.State != store.SignSigning {
			return err // moved on meanwhile
		}
		now := s.now()
		cur.Ceremony, cur.ApprovalExpires, cur.SigningSince = "", time.Time{}, time.Time{}
		if !now.Before(cur.Expires) {
			cur.State, cur.Reason, cur.Completed = store.SignExpired, "signing was interrupted and the request expired", now
		} else {
			cur.State, cur.Reason = store.SignPending, "signing was interrupted; approve again"
		}
		if saved, err = tx.PutSignRequest(cur); err != nil {
			return err
		}
		moved = true
		if saved.State == store.SignExpired {
			if queued, err = s.enqueueWebhook(tx, saved); err != nil {
				return err
			}
		}
		kept, err = s.keepAudit(tx, "", audit.Event{Actor: "system:signing", Action: "signing.recover", Subject: "sign-request:" + r.ID,
			Details: map[string]string{"state": saved.State, "signing_since": r.SigningSince.Format(time.RFC3339)},
			Source:  fmt.Sprintf("signing.recover:%s/%d", saved.ID, saved.Version)})
		return err
	})
	if err != nil || !moved {
		return false, err
	}
	if queued {
		s.kick()
	}
	if err := s.appendKept(ctx, kept); err != nil {
		return true, err
	}
	return true, nil
}

// Run recovers interrupted requests and delivers due webhooks every poll
// interval (default 1 s) until ctx ends; every replica runs it. Errors go
// to report (nil: dropped) and the next round tries again.
func (s *Service) Run(ctx context.Context, poll time.Duration, report func(error)) {
	if poll <= 0 {
		poll = time.Second
	}
	if report == nil {
		report = func(error) {}
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := s.Recover(ctx); err != nil && ctx.Err() == nil {
			report(err)
		}
		for {
			n, err := s.DeliverWebhooks(ctx)
			if err != nil && ctx.Err() == nil {
				report(err)
			}
			if err != nil || n < webhookBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
