package api

import (
	"context"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// TestWrappedCitizenKeys checks that activation leaves no named citizen key
// in custody (the keys are blobs in the identity records), and that a blob
// moved into another citizen's record is refused when that citizen
// approves: no signature is made with someone else's key.
func TestWrappedCitizenKeys(t *testing.T) {
	e := newSignEnv(t)
	ctx := context.Background()
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	_, _ = e.citizen(t, off, "9861234567")
	ph, tok := e.citizen(t, off, "9861234568")
	ag := e.agency(t, "Ministry", signing.ScopeSignRequests)

	ids, err := e.keys.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if strings.HasPrefix(string(id), "citizen-") && !strings.HasPrefix(string(id), "citizen-ca-") {
			t.Errorf("named citizen key %s in custody", id)
		}
	}
	var victim, thief store.Identity
	err = e.st.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
		var err error
		if victim, err = tx.Identity("9861234567"); err != nil {
			return err
		}
		if thief, err = tx.Identity("9861234568"); err != nil {
			return err
		}
		if len(victim.SigningKey) == 0 || len(victim.SigningPub) == 0 {
			t.Fatal("identity holds no wrapped signing key")
		}
		// The thief's record now holds the victim's wrapped key.
		thief.SigningKey = victim.SigningKey
		_, err = tx.PutIdentity(thief)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var req signing.RequestView
	body := signing.NewRequest{NationalID: "9861234568", PurposeAr: "غرض", PurposeEn: "Purpose", Documents: threeDocuments(t)[:1]}
	if rec := e.call(t, "POST", "/api/v1/sign-requests", ag.Key, body, &req); rec.Code != 201 && rec.Code != 200 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	code, reply := e.approve(t, ph, tok, req.ID)
	if code == 200 {
		t.Fatalf("approval with a swapped key blob succeeded: %s", reply)
	}
	t.Logf("refused: %d %s", code, reply)
	if n := e.signedCount(t, req.ID, 1); n != 0 {
		t.Fatalf("%d signed documents or evidence records stored", n)
	}
	if e.signs.Load() != 0 {
		t.Fatalf("the key was reached %d times", e.signs.Load())
	}
}
