package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/store"
)

// RequestsStore is what the service requests' contract covers.
type RequestsStore interface {
	RequestsView(ctx context.Context, fn func(store.RequestsTx) error) error
	RequestsUpdate(ctx context.Context, fn func(store.RequestsTx) error) error
}

// RunRequests runs the service requests' contract against fresh, empty
// stores made by open.
func RunRequests(t *testing.T, open func(t *testing.T) RequestsStore) {
	ctx := context.Background()
	now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	newReq := func(id, nid, agency string, at time.Time) store.ServiceRequest {
		return store.ServiceRequest{ID: id, Service: "MOI-001", Agency: agency, NationalID: nid, State: store.RequestOpened,
			FormSHA256: []byte{1, 2}, Created: at, Updated: at,
			Transitions: []store.RequestTransition{{At: at, By: "citizen:x", To: store.RequestOpened}}}
	}
	put := func(t *testing.T, s RequestsStore, r store.ServiceRequest) (store.ServiceRequest, error) {
		t.Helper()
		var out store.ServiceRequest
		err := s.RequestsUpdate(ctx, func(tx store.RequestsTx) (err error) {
			out, err = tx.PutServiceRequest(r)
			return err
		})
		return out, err
	}
	t.Run("Empty", func(t *testing.T) {
		s := open(t)
		err := s.RequestsView(ctx, func(tx store.RequestsTx) error {
			if _, err := tx.ServiceRequest("nope"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ServiceRequest = %v, want ErrNotFound", err)
			}
			if _, err := tx.RequestBlob("nope"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("RequestBlob = %v, want ErrNotFound", err)
			}
			q, err := tx.AgencyQueue("ag", store.RequestSubmitted, store.Page{})
			if err != nil || len(q) != 0 {
				t.Errorf("AgencyQueue = %v, %v", q, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Versions", func(t *testing.T) {
		s := open(t)
		r, err := put(t, s, newReq("r1", "9861234567", "agA", now))
		if err != nil || r.Version != 1 {
			t.Fatalf("put = %d, %v", r.Version, err)
		}
		if _, err := put(t, s, newReq("r1", "9861234567", "agA", now)); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second insert = %v, want ErrConflict", err)
		}
		moved := r
		moved.Agency = "agB"
		if _, err := put(t, s, moved); err == nil || errors.Is(err, store.ErrConflict) {
			t.Errorf("changing the agency = %v, want an error", err)
		}
		r.State = store.RequestSubmitted
		r2, err := put(t, s, r)
		if err != nil || r2.Version != 2 {
			t.Fatalf("update = %d, %v", r2.Version, err)
		}
		if _, err := put(t, s, r); !errors.Is(err, store.ErrConflict) {
			t.Errorf("stale update = %v, want ErrConflict", err)
		}
		ghost := newReq("r9", "9861234567", "agA", now)
		ghost.Version = 3
		if _, err := put(t, s, ghost); !errors.Is(err, store.ErrConflict) {
			t.Errorf("update of a missing request = %v, want ErrConflict", err)
		}
		err = s.RequestsView(ctx, func(tx store.RequestsTx) error {
			got, err := tx.ServiceRequest("r1")
			if err != nil || got.State != store.RequestSubmitted || got.Version != 2 || len(got.Transitions) != 1 || !bytes.Equal(got.FormSHA256, []byte{1, 2}) {
				t.Errorf("ServiceRequest = %+v, %v", got, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Listings", func(t *testing.T) {
		s := open(t)
		for i := range 5 {
			r := newReq(fmt.Sprintf("q%d", i), "9861234567", "agA", now.Add(time.Duration(i)*time.Minute))
			if i == 3 {
				r.NationalID, r.Agency = "9867654321", "agB"
			}
			saved, err := put(t, s, r)
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				saved.State = store.RequestSubmitted
				if _, err := put(t, s, saved); err != nil {
					t.Fatal(err)
				}
			}
		}
		err := s.RequestsView(ctx, func(tx store.RequestsTx) error {
			mine, err := tx.ServiceRequestsOf("9861234567")
			if ids := idsOf(mine); err != nil || ids != "q0 q1 q2 q4" {
				t.Errorf("ServiceRequestsOf = %q, %v", ids, err)
			}
			sub, err := tx.AgencyQueue("agA", store.RequestSubmitted, store.Page{})
			if ids := idsOf(sub); err != nil || ids != "q0 q2 q4" {
				t.Errorf("submitted queue = %q, %v", ids, err)
			}
			page, err := tx.AgencyQueue("agA", store.RequestSubmitted, store.Page{After: sub[0].QueueKey(), Limit: 1})
			if ids := idsOf(page); err != nil || ids != "q2" {
				t.Errorf("second page = %q, %v", ids, err)
			}
			opened, err := tx.AgencyQueue("agA", store.RequestOpened, store.Page{})
			if ids := idsOf(opened); err != nil || ids != "q1" {
				t.Errorf("opened queue = %q, %v", ids, err)
			}
			other, err := tx.AgencyQueue("agB", store.RequestOpened, store.Page{})
			if ids := idsOf(other); err != nil || ids != "q3" {
				t.Errorf("other agency's queue = %q, %v", ids, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("NewestListed", func(t *testing.T) {
		// A citizen's listing keeps the newest 1000, oldest first.
		s := open(t)
		err := s.RequestsUpdate(ctx, func(tx store.RequestsTx) error {
			for i := range 1002 {
				if _, err := tx.PutServiceRequest(newReq(fmt.Sprintf("n%04d", i), "9861234567", "agA", now.Add(time.Duration(i)*time.Second))); err != nil {
					return err
				}
			}
			_, err := tx.PutServiceRequest(newReq("other", "9861234568", "agA", now.Add(time.Hour)))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.RequestsView(ctx, func(tx store.RequestsTx) error {
			got, err := tx.ServiceRequestsOf("9861234567")
			if err != nil || len(got) != 1000 || got[0].ID != "n0002" || got[999].ID != "n1001" {
				t.Errorf("ServiceRequestsOf = %d requests, %v", len(got), err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Blobs", func(t *testing.T) {
		s := open(t)
		if err := s.RequestsUpdate(ctx, func(tx store.RequestsTx) error { return tx.PutRequestBlob("form/r1", []byte("%PDF-")) }); err != nil {
			t.Fatal(err)
		}
		err := s.RequestsUpdate(ctx, func(tx store.RequestsTx) error { return tx.PutRequestBlob("form/r1", []byte("other")) })
		if !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("overwrite = %v, want ErrDuplicate", err)
		}
		err = s.RequestsView(ctx, func(tx store.RequestsTx) error {
			b, err := tx.RequestBlob("form/r1")
			if err != nil || string(b) != "%PDF-" {
				t.Errorf("RequestBlob = %q, %v", b, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ConcurrentDecisions", func(t *testing.T) {
		// Two deciders read the submitted request and race to move it:
		// exactly one wins, the other sees the state already changed.
		s := open(t)
		r, err := put(t, s, newReq("c1", "9861234567", "agA", now))
		if err != nil {
			t.Fatal(err)
		}
		r.State = store.RequestSubmitted
		if _, err := put(t, s, r); err != nil {
			t.Fatal(err)
		}
		const racers = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				won := false
				err := s.RequestsUpdate(ctx, func(tx store.RequestsTx) error {
					won = false
					cur, err := tx.ServiceRequest("c1")
					if err != nil {
						return err
					}
					if cur.State != store.RequestSubmitted {
						return nil
					}
					cur.State = store.RequestAccepted
					cur.Reason = fmt.Sprint("racer ", i)
					_, err = tx.PutServiceRequest(cur)
					won = err == nil
					return err
				})
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				if won {
					wins++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Errorf("%d deciders won, want 1", wins)
		}
		// A writer holding a stale version loses with ErrConflict.
		if _, err := put(t, s, r); !errors.Is(err, store.ErrConflict) {
			t.Errorf("stale write after the race = %v, want ErrConflict", err)
		}
	})
}

func idsOf(rs []store.ServiceRequest) string {
	var b bytes.Buffer
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(r.ID)
	}
	return b.String()
}
