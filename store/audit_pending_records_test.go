package store_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/thiqa/thiqa/store"
)

type pendingRecordsStore interface {
	PutOIDC(ctx context.Context, e store.OIDCEntry) error
	PendingAudits(ctx context.Context, before time.Time, limit int) ([]store.PendingAudit, error)
	ClearPendingAudits(ctx context.Context, records []store.PendingAudit) error
}

// testPendingRecords: a record kept with a put is listed oldest first up
// to a time, with what it says, and forgotten when cleared; a put without
// one or a refused put keeps nothing.
func testPendingRecords(t *testing.T, s pendingRecordsStore) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	for i, src := range []string{"test:b", "test:a", ""} {
		e := store.OIDCEntry{Kind: store.OIDCSignIn, Key: "k" + src, Identity: "id1", Expires: t0.Add(time.Hour)}
		if src != "" {
			e.AuditPending = &store.PendingAudit{Source: src, At: t0.Add(time.Duration(i) * time.Second), Actor: "citizen:id1", Action: "oidc-signin",
				Subject: "oidc-client:c", Details: json.RawMessage(`{"single_sign_on":false}`)}
		}
		if err := s.PutOIDC(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	bad := store.OIDCEntry{Kind: store.OIDCSignIn, Expires: t0.Add(time.Hour), AuditPending: &store.PendingAudit{Source: "test:refused", At: t0, Action: "x"}}
	if err := s.PutOIDC(ctx, bad); err == nil {
		t.Fatal("an entry without a key was stored")
	}
	got, err := s.PendingAudits(ctx, t0.Add(time.Second), 10)
	if err != nil || len(got) != 1 || got[0].Source != "test:b" {
		t.Fatalf("pending before t0+1s = %+v, %v", got, err)
	}
	var d map[string]any
	if json.Unmarshal(got[0].Details, &d) != nil || d["single_sign_on"] != false || got[0].Actor != "citizen:id1" || !got[0].At.Equal(t0) {
		t.Errorf("pending record %+v", got[0])
	}
	all, err := s.PendingAudits(ctx, t0.Add(time.Hour), 10)
	if err != nil || len(all) != 2 || all[1].Source != "test:a" {
		t.Fatalf("pending = %+v, %v", all, err)
	}
	if err := s.ClearPendingAudits(ctx, all[:1]); err != nil {
		t.Fatal(err)
	}
	if left, err := s.PendingAudits(ctx, t0.Add(time.Hour), 10); err != nil || len(left) != 1 || left[0].Source != "test:a" {
		t.Fatalf("pending after clearing one = %+v, %v", left, err)
	}
}

func TestBoltPendingRecords(t *testing.T) {
	s, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testPendingRecords(t, s)
}

func TestPostgresPendingRecords(t *testing.T) { testPendingRecords(t, openPostgres(t)) }
