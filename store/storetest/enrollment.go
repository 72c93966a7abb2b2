package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/store"
)

// EnrollmentStore is what the enrollment contract covers.
type EnrollmentStore interface {
	EnrollmentView(ctx context.Context, fn func(store.EnrollmentTx) error) error
	EnrollmentUpdate(ctx context.Context, fn func(store.EnrollmentTx) error) error
}

// RunEnrollment runs the enrollment records' contract against fresh, empty
// stores made by open.
func RunEnrollment(t *testing.T, open func(t *testing.T) EnrollmentStore) {
	ctx := context.Background()
	runOfficers(t, open)
	update := func(t *testing.T, s EnrollmentStore, fn func(store.EnrollmentTx) error) error {
		t.Helper()
		return s.EnrollmentUpdate(ctx, fn)
	}
	t.Run("Empty", func(t *testing.T) {
		s := open(t)
		err := s.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
			if _, err := tx.Identity("9861234567"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Identity on an empty store = %v, want ErrNotFound", err)
			}
			if _, err := tx.Officer("omar"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Officer on an empty store = %v, want ErrNotFound", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("CentresOfficers", func(t *testing.T) {
		s := open(t)
		c := store.Centre{Code: "AMM-01", NameEn: "Amman 1", NameAr: "عمان ١", Governorate: "Amman", CreatedAt: t0}
		if err := update(t, s, func(tx store.EnrollmentTx) error { return tx.InsertCentre(c) }); err != nil {
			t.Fatal(err)
		}
		if err := update(t, s, func(tx store.EnrollmentTx) error { return tx.InsertCentre(c) }); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("second InsertCentre = %v, want ErrDuplicate", err)
		}
		o := store.Officer{Username: "omar", Role: store.RoleOfficer, Centre: "AMM-01"}
		if err := update(t, s, func(tx store.EnrollmentTx) error { return tx.PutOfficer(o) }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("PutOfficer of a missing officer = %v, want ErrNotFound", err)
		}
		err := update(t, s, func(tx store.EnrollmentTx) error {
			if err := tx.InsertOfficer(o); err != nil {
				return err
			}
			o.Failures = 3
			return tx.PutOfficer(o)
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
			got, err := tx.Officer("omar")
			if err != nil || got.Failures != 3 {
				t.Errorf("Officer = %+v, %v", got, err)
			}
			cs, err := tx.Centres()
			if err != nil || len(cs) != 1 || cs[0].NameAr != c.NameAr {
				t.Errorf("Centres = %+v, %v", cs, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("RolledBack", func(t *testing.T) {
		s := open(t)
		boom := errors.New("boom")
		err := update(t, s, func(tx store.EnrollmentTx) error {
			if err := tx.InsertCentre(store.Centre{Code: "X1"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("update = %v, want boom", err)
		}
		s.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
			if _, err := tx.Centre("X1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a failed transaction left its write: %v", err)
			}
			return nil
		})
	})
	t.Run("Enrollments", func(t *testing.T) {
		s := open(t)
		var ids []string
		for i, nid := range []string{"9861234567", "1234567890", "9861234567"} {
			err := update(t, s, func(tx store.EnrollmentTx) error {
				r, err := tx.AppendEnrollment(store.EnrollmentRecord{NationalID: nid, GivenName: "N", At: t0, DocNumber: string(rune('A' + i))})
				ids = append(ids, r.ID)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if ids[0] == ids[2] || ids[0] == "" {
			t.Fatalf("record IDs %v", ids)
		}
		s.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
			rs, err := tx.Enrollments("9861234567")
			if err != nil || len(rs) != 2 || rs[0].DocNumber != "A" || rs[1].DocNumber != "C" || rs[1].ID != ids[2] {
				t.Errorf("Enrollments = %+v, %v", rs, err)
			}
			r, err := tx.Enrollment(ids[1])
			if err != nil || r.NationalID != "1234567890" {
				t.Errorf("Enrollment(%s) = %+v, %v", ids[1], r, err)
			}
			if rs, _ := tx.Enrollments("986123456"); len(rs) != 0 {
				t.Errorf("a prefix of a national number matched %d records", len(rs))
			}
			return nil
		})
	})
	t.Run("Identities", func(t *testing.T) {
		s := open(t)
		id := store.Identity{NationalID: "9861234567", ID: "gen1", State: store.IdentityEnrolled}
		err := update(t, s, func(tx store.EnrollmentTx) (err error) {
			id, err = tx.PutIdentity(id)
			return err
		})
		if err != nil || id.Version != 1 {
			t.Fatalf("PutIdentity = %+v, %v", id, err)
		}
		stale := id
		id.State = store.IdentityActive
		if err := update(t, s, func(tx store.EnrollmentTx) (err error) { id, err = tx.PutIdentity(id); return err }); err != nil {
			t.Fatal(err)
		}
		if err := update(t, s, func(tx store.EnrollmentTx) error { _, err := tx.PutIdentity(stale); return err }); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale PutIdentity = %v, want ErrConflict", err)
		}
		other := store.Identity{NationalID: "1234567890", ID: "gen1"}
		if err := update(t, s, func(tx store.EnrollmentTx) error { _, err := tx.PutIdentity(other); return err }); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("PutIdentity with a taken ID = %v, want ErrDuplicate", err)
		}
		s.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
			got, err := tx.IdentityByID("gen1")
			if err != nil || got.State != store.IdentityActive || got.Version != 2 {
				t.Errorf("IdentityByID = %+v, %v", got, err)
			}
			return nil
		})
	})
	t.Run("ScanAfter", func(t *testing.T) {
		s := open(t)
		nids := []string{"0000000003", "0000000001", "0000000002", "9000000000"}
		err := update(t, s, func(tx store.EnrollmentTx) error {
			for i, n := range nids {
				if _, err := tx.PutIdentity(store.Identity{NationalID: n, ID: "gen" + n}); err != nil {
					return err
				}
				if err := tx.InsertOfficer(store.Officer{Username: "officer" + string(rune('d'-i))}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		s.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
			var got []string
			for after := ""; ; {
				page, err := tx.IdentitiesAfter(after, 3)
				if err != nil || len(page) > 3 {
					t.Fatalf("IdentitiesAfter(%q, 3) = %d, %v", after, len(page), err)
				}
				if len(page) == 0 {
					break
				}
				for _, i := range page {
					got = append(got, i.NationalID)
				}
				after = page[len(page)-1].NationalID
			}
			if want := "0000000001 0000000002 0000000003 9000000000"; fmt.Sprint(got) != "["+want+"]" {
				t.Errorf("identities scanned %v, want [%s]", got, want)
			}
			os, err := tx.OfficersAfter("officerb", 10)
			if err != nil || len(os) != 2 || os[0].Username != "officerc" || os[1].Username != "officerd" {
				t.Errorf("OfficersAfter(officerb) = %+v, %v", os, err)
			}
			return nil
		})
	})
	t.Run("SessionsCeremoniesApprovals", func(t *testing.T) {
		s := open(t)
		err := update(t, s, func(tx store.EnrollmentTx) error {
			if err := tx.PutSession(store.Session{Hash: []byte{1, 2}, Kind: store.SessionCitizen, Expires: t0}); err != nil {
				return err
			}
			if err := tx.PutCeremony(store.WebAuthnCeremony{ID: "c1", Kind: "signin", Expires: t0}); err != nil {
				return err
			}
			return tx.PutApproval(store.Approval{ID: "a1", Status: "pending"})
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := update(t, s, func(tx store.EnrollmentTx) error { return tx.PutCeremony(store.WebAuthnCeremony{ID: "c1"}) }); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("second PutCeremony = %v, want ErrDuplicate", err)
		}
		// Deleting a ceremony succeeds once, even when raced.
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 8 {
			wg.Go(func() {
				if update(t, s, func(tx store.EnrollmentTx) error { return tx.DeleteCeremony("c1") }) == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("ceremony deleted %d times", wins)
		}
		err = update(t, s, func(tx store.EnrollmentTx) error {
			if _, err := tx.Session([]byte{1, 2}); err != nil {
				return err
			}
			if a, err := tx.Approval("a1"); err != nil || a.Status != "pending" {
				t.Errorf("Approval = %+v, %v", a, err)
			}
			if as, err := tx.Approvals("pending", 10); err != nil || len(as) != 1 || as[0].ID != "a1" {
				t.Errorf("Approvals(pending) = %+v, %v", as, err)
			}
			if as, err := tx.Approvals("approved", 10); err != nil || len(as) != 0 {
				t.Errorf("Approvals(approved) = %+v, %v", as, err)
			}
			return tx.DeleteSession([]byte{1, 2})
		})
		if err != nil {
			t.Fatal(err)
		}
		s.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
			if _, err := tx.Session([]byte{1, 2}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("deleted session: %v", err)
			}
			return nil
		})
	})
	t.Run("PurgeExpired", func(t *testing.T) { runPurge(t, open(t)) })
	t.Run("Events", func(t *testing.T) {
		s := open(t)
		for _, subj := range []string{"identity:1", "identity:10", "identity:1"} {
			if err := update(t, s, func(tx store.EnrollmentTx) error {
				return tx.AppendEvent(store.Event{At: t0, Actor: "system", Action: "x", Subject: subj})
			}); err != nil {
				t.Fatal(err)
			}
		}
		s.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
			es, err := tx.Events("identity:1")
			if err != nil || len(es) != 2 || es[0].Seq >= es[1].Seq {
				t.Errorf("Events = %+v, %v", es, err)
			}
			return nil
		})
	})
}

// runPurge checks that expired sessions and ceremonies are purged and live
// ones kept.
func runPurge(t *testing.T, s EnrollmentStore) {
	ctx := context.Background()
	err := s.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
		for i, exp := range []time.Time{t0, t0.Add(time.Hour), t0, t0.Add(time.Hour)} {
			id := []byte{byte('a' + i)}
			if err := tx.PutSession(store.Session{Hash: id, Expires: exp}); err != nil {
				return err
			}
			if err := tx.PutCeremony(store.WebAuthnCeremony{ID: string(id), Expires: exp}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	err = s.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) (err error) {
		n, err = tx.PurgeExpired([]byte("c"), 10, t0.Add(time.Minute))
		return err
	})
	if err != nil || n != 4 {
		t.Fatalf("PurgeExpired = %d, %v; want 4 (2 sessions, 2 ceremonies)", n, err)
	}
	s.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
		for i, live := range []bool{false, true, false, true} {
			id := []byte{byte('a' + i)}
			_, err1 := tx.Session(id)
			_, err2 := tx.Ceremony(string(id))
			if (err1 == nil) != live || (err2 == nil) != live {
				t.Errorf("%s: session %v, ceremony %v; live %v", id, err1, err2, live)
			}
		}
		return nil
	})
}
