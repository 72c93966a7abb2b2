package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/store"
)

// OIDCStore is the OpenID provider's flow state.
type OIDCStore interface {
	InsertOIDC(ctx context.Context, e store.OIDCEntry, now time.Time) error
	PutOIDC(ctx context.Context, e store.OIDCEntry) error
	OIDC(ctx context.Context, kind store.OIDCKind, key string, now time.Time) (store.OIDCEntry, error)
	UpdateOIDC(ctx context.Context, kind store.OIDCKind, key string, now time.Time, fn func(*store.OIDCEntry) error) (store.OIDCEntry, error)
	DeleteOIDC(ctx context.Context, kind store.OIDCKind, key string) error
	DeleteOIDCByIdentity(ctx context.Context, identity string) ([]store.OIDCEntry, error)
	DeleteOIDCByGrant(ctx context.Context, grant string) ([]store.OIDCEntry, error)
	PurgeOIDC(ctx context.Context, now time.Time, limit int) (int, error)
}

func oidcEntry(kind store.OIDCKind, key, identity, grant string, ttl time.Duration) store.OIDCEntry {
	return store.OIDCEntry{Kind: kind, Key: key, Identity: identity, Grant: grant, Doc: []byte(`{"k":"` + key + `"}`), Expires: t0.Add(ttl)}
}

func keysOf(es []store.OIDCEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, string(e.Kind)+":"+e.Key)
	}
	slices.Sort(out)
	return out
}

// RunOIDC runs the OpenID provider state contract against fresh, empty
// stores made by open.
func RunOIDC(t *testing.T, open func(t *testing.T) OIDCStore) {
	ctx := context.Background()
	t.Run("InsertGetExpire", func(t *testing.T) {
		s := open(t)
		e := oidcEntry(store.OIDCAuthRequest, "req-1", "", "", time.Minute)
		if _, err := s.OIDC(ctx, e.Kind, e.Key, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("OIDC(missing) = %v, want ErrNotFound", err)
		}
		if err := s.InsertOIDC(ctx, e, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertOIDC(ctx, e, t0.Add(59*time.Second)); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("insert of a live key = %v, want ErrDuplicate", err)
		}
		got, err := s.OIDC(ctx, e.Kind, e.Key, t0)
		if err != nil || string(got.Doc) != string(e.Doc) || !got.Expires.Equal(e.Expires) || got.Kind != e.Kind {
			t.Fatalf("OIDC = %+v, %v", got, err)
		}
		if _, err := s.OIDC(ctx, store.OIDCCode, e.Key, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("same key, other kind = %v, want ErrNotFound", err)
		}
		if _, err := s.OIDC(ctx, e.Kind, e.Key, t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("OIDC(expired) = %v, want ErrNotFound", err)
		}
		again := e
		again.Doc, again.Expires = []byte("second"), t0.Add(2*time.Hour)
		if err := s.InsertOIDC(ctx, again, t0.Add(time.Minute)); err != nil {
			t.Fatalf("insert over an expired entry: %v", err)
		}
		if got, err := s.OIDC(ctx, e.Kind, e.Key, t0.Add(time.Hour)); err != nil || string(got.Doc) != "second" {
			t.Fatalf("after re-insert: %+v, %v", got, err)
		}
		for _, bad := range []store.OIDCEntry{{Kind: store.OIDCCode, Key: "x"}, {Kind: store.OIDCCode, Key: "a\x00b", Expires: t0.Add(time.Hour)},
			{Kind: store.OIDCCode, Key: "\xff", Expires: t0.Add(time.Hour)}} {
			if err := s.InsertOIDC(ctx, bad, t0); !errors.Is(err, store.ErrOIDCEntry) {
				t.Fatalf("insert of %q = %v, want ErrOIDCEntry", bad.Key, err)
			}
		}
		if err := s.DeleteOIDC(ctx, e.Kind, e.Key); err != nil {
			t.Fatal(err)
		}
		if _, err := s.OIDC(ctx, e.Kind, e.Key, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete = %v", err)
		}
		if err := s.DeleteOIDC(ctx, e.Kind, "never"); err != nil {
			t.Fatalf("delete of a missing entry: %v", err)
		}
	})
	t.Run("PutReplaces", func(t *testing.T) {
		s := open(t)
		e := oidcEntry(store.OIDCSignIn, "rp-1 sub", "id-1", "", time.Hour)
		if err := s.PutOIDC(ctx, e); err != nil {
			t.Fatal(err)
		}
		e.Identity, e.Doc = "id-2", []byte("two")
		if err := s.PutOIDC(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, err := s.OIDC(ctx, e.Kind, e.Key, t0)
		if err != nil || got.Identity != "id-2" || string(got.Doc) != "two" {
			t.Fatalf("after put = %+v, %v", got, err)
		}
		// The identity index follows the replacement.
		if gone, err := s.DeleteOIDCByIdentity(ctx, "id-1"); err != nil || len(gone) != 0 {
			t.Fatalf("by old identity = %v, %v", keysOf(gone), err)
		}
		if gone, err := s.DeleteOIDCByIdentity(ctx, "id-2"); err != nil || len(gone) != 1 {
			t.Fatalf("by new identity = %v, %v", keysOf(gone), err)
		}
	})
	t.Run("Update", func(t *testing.T) {
		s := open(t)
		e := oidcEntry(store.OIDCAuthRequest, "req-1", "", "", time.Minute)
		if _, err := s.UpdateOIDC(ctx, e.Kind, e.Key, t0, func(*store.OIDCEntry) error { return nil }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update of a missing entry = %v, want ErrNotFound", err)
		}
		if err := s.InsertOIDC(ctx, e, t0); err != nil {
			t.Fatal(err)
		}
		got, err := s.UpdateOIDC(ctx, e.Kind, e.Key, t0, func(x *store.OIDCEntry) error {
			x.Identity, x.Doc, x.Expires = "id-1", []byte("signed in"), t0.Add(time.Hour)
			return nil
		})
		if err != nil || got.Identity != "id-1" {
			t.Fatalf("update = %+v, %v", got, err)
		}
		refuse := errors.New("refused")
		_, err = s.UpdateOIDC(ctx, e.Kind, e.Key, t0, func(x *store.OIDCEntry) error {
			x.Doc = []byte("must not stick")
			return refuse
		})
		if !errors.Is(err, refuse) {
			t.Fatalf("update whose fn fails = %v, want its error", err)
		}
		got, err = s.OIDC(ctx, e.Kind, e.Key, t0.Add(30*time.Minute))
		if err != nil || string(got.Doc) != "signed in" || got.Identity != "id-1" {
			t.Fatalf("after updates = %+v, %v (the expiry moved, the failed change did not stick)", got, err)
		}
		if gone, err := s.DeleteOIDCByIdentity(ctx, "id-1"); err != nil || len(gone) != 1 {
			t.Fatalf("identity set by update not indexed: %v, %v", keysOf(gone), err)
		}
		if err := s.InsertOIDC(ctx, e, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateOIDC(ctx, e.Kind, e.Key, t0.Add(time.Minute), func(*store.OIDCEntry) error { return nil }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update of an expired entry = %v, want ErrNotFound", err)
		}
	})
	t.Run("SingleUseUnderRace", func(t *testing.T) {
		s := open(t)
		e := oidcEntry(store.OIDCCode, "code-hash", "id-1", "req-1", time.Minute)
		e.Doc = []byte("fresh")
		if err := s.InsertOIDC(ctx, e, t0); err != nil {
			t.Fatal(err)
		}
		used := errors.New("used")
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, dups := 0, 0
		for range 8 {
			wg.Go(func() {
				_, err := s.UpdateOIDC(ctx, e.Kind, e.Key, t0, func(x *store.OIDCEntry) error {
					if string(x.Doc) == "used" {
						return used
					}
					x.Doc = []byte("used")
					return nil
				})
				ins := s.InsertOIDC(ctx, oidcEntry(store.OIDCAssertion, "iss jti", "", "", time.Minute), t0)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					wins++
				} else if !errors.Is(err, used) {
					t.Errorf("update: %v", err)
				}
				if ins == nil {
					dups++
				} else if !errors.Is(ins, store.ErrDuplicate) {
					t.Errorf("insert: %v", ins)
				}
			})
		}
		wg.Wait()
		if wins != 1 || dups != 1 {
			t.Fatalf("%d updates and %d inserts won, want exactly 1 each", wins, dups)
		}
	})
	t.Run("DeleteByIdentityAndGrant", func(t *testing.T) {
		s := open(t)
		for _, e := range []store.OIDCEntry{
			oidcEntry(store.OIDCSession, "s1", "id-1", "", time.Hour),
			oidcEntry(store.OIDCAccessToken, "a1", "id-1", "req-1", time.Minute),
			oidcEntry(store.OIDCRefresh, "r1", "id-1", "req-1", time.Hour),
			oidcEntry(store.OIDCRefresh, "r2", "id-1", "req-2", time.Hour),
			oidcEntry(store.OIDCAccessToken, "a2", "id-1", "req-2", -time.Minute), // expired
			oidcEntry(store.OIDCAccessToken, "a3", "id-2", "req-3", time.Minute),
			oidcEntry(store.OIDCSignIn, "rp sub-2", "id-2", "", time.Hour),
		} {
			if err := s.PutOIDC(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		gone, err := s.DeleteOIDCByGrant(ctx, "req-1")
		if err != nil || fmt.Sprint(keysOf(gone)) != "[access:a1 refresh:r1]" {
			t.Fatalf("by grant req-1 = %v, %v", keysOf(gone), err)
		}
		gone, err = s.DeleteOIDCByIdentity(ctx, "id-1")
		if err != nil || fmt.Sprint(keysOf(gone)) != "[access:a2 refresh:r2 session:s1]" {
			t.Fatalf("by identity id-1 = %v, %v", keysOf(gone), err)
		}
		if gone, err := s.DeleteOIDCByGrant(ctx, "req-2"); err != nil || len(gone) != 0 {
			t.Fatalf("grant req-2 after its identity's sign-out = %v, %v", keysOf(gone), err)
		}
		if _, err := s.OIDC(ctx, store.OIDCAccessToken, "a3", t0); err != nil {
			t.Fatalf("another citizen's token: %v", err)
		}
		if _, err := s.DeleteOIDCByIdentity(ctx, ""); err == nil {
			t.Fatal("delete by empty identity accepted")
		}
	})
	t.Run("Purge", func(t *testing.T) {
		s := open(t)
		for i := range 5 {
			if err := s.PutOIDC(ctx, oidcEntry(store.OIDCAssertion, fmt.Sprint("old-", i), "", "g", time.Duration(i+1)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PutOIDC(ctx, oidcEntry(store.OIDCSession, "live", "id-1", "g", time.Hour)); err != nil {
			t.Fatal(err)
		}
		now := t0.Add(10 * time.Second)
		n, err := s.PurgeOIDC(ctx, now, 3)
		if err != nil || n != 3 {
			t.Fatalf("purge(limit 3) = %d, %v", n, err)
		}
		n, err = s.PurgeOIDC(ctx, now, 100)
		if err != nil || n != 2 {
			t.Fatalf("purge(rest) = %d, %v", n, err)
		}
		if n, err := s.PurgeOIDC(ctx, now, 100); err != nil || n != 0 {
			t.Fatalf("purge(nothing left) = %d, %v", n, err)
		}
		if gone, err := s.DeleteOIDCByGrant(ctx, "g"); err != nil || fmt.Sprint(keysOf(gone)) != "[session:live]" {
			t.Fatalf("purged entries left in the grant index: %v, %v", keysOf(gone), err)
		}
	})
}
