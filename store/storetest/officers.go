package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/thiqa/thiqa/store"
)

// runOfficers covers the paged listing of officers.
func runOfficers(t *testing.T, open func(t *testing.T) EnrollmentStore) {
	t.Run("Officers", func(t *testing.T) {
		s := open(t)
		ctx := context.Background()
		err := s.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
			for _, u := range []string{"omar", "amal", "zaid", "layla"} {
				if err := tx.InsertOfficer(store.Officer{Username: u, Role: store.RoleAdmin, TOTPSealed: []byte{1, 2}, CreatedAt: time.Unix(0, 0)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		page := func(after string, max int) string {
			var got string
			err := s.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
				list, err := tx.Officers(after, max)
				for _, o := range list {
					got += o.Username + " "
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		for _, c := range []struct {
			after string
			max   int
			want  string
		}{{"", 2, "amal layla "}, {"layla", 2, "omar zaid "}, {"m", 10, "omar zaid "}, {"zaid", 10, ""}, {"", 0, ""}} {
			if got := page(c.after, c.max); got != c.want {
				t.Errorf("Officers(%q, %d) = %q, want %q", c.after, c.max, got, c.want)
			}
		}
	})
}
