package signing_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// crashingAuditor stands for a process killed between a change's commit
// and its audit append.
type crashingAuditor struct{}

var errCrash = errors.New("killed before the audit append")

func (crashingAuditor) Append(context.Context, audit.Event) (audit.Receipt, error) {
	return audit.Receipt{}, errCrash
}

// TestAgencyAuditCatchUp: an agency added, its key rotated, and the agency
// disabled, each committed without its audit record (the process died
// after each commit), get their records from the catch-up, exactly once,
// and the log verifies. On bbolt and on PostgreSQL.
func TestAgencyAuditCatchUp(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) interface {
		signing.Store
		audit.Store
		audit.PendingStore
	}{
		"bolt": func(t *testing.T) interface {
			signing.Store
			audit.Store
			audit.PendingStore
		} {
			st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"postgres": func(t *testing.T) interface {
			signing.Store
			audit.Store
			audit.PendingStore
		} {
			st, err := store.OpenPostgres(context.Background(), pgtest.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			log, err := audit.New(st, key, audit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			crashing, err := signing.New(st, noApprover{}, noTrust{}, signing.Options{Audit: crashingAuditor{}})
			if err != nil {
				t.Fatal(err)
			}
			audited, err := signing.New(st, noApprover{}, noTrust{}, signing.Options{Audit: log})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := crashing.AddAgency(ctx, signing.NewAgency{Name: "Land Department", Scopes: []string{signing.ScopeSignRequests}}); !errors.Is(err, errCrash) {
				t.Fatalf("add: %v, want the crash", err)
			}
			if _, err := crashing.RotateAgencyKey(ctx, "Land Department", "operator:root"); !errors.Is(err, errCrash) {
				t.Fatalf("rotate: %v, want the crash", err)
			}
			if _, err := crashing.SetAgencyDisabled(ctx, "Land Department", true, "operator:root"); !errors.Is(err, errCrash) {
				t.Fatalf("disable: %v, want the crash", err)
			}
			other, err := audited.AddAgency(ctx, signing.NewAgency{Name: "Civil Status", Scopes: []string{signing.ScopeVerify}})
			if err != nil {
				t.Fatal(err)
			}
			if got := agencyRecords(t, st); len(got) != 1 || got["agency.added agency:"+other.Agency.ID] != 1 {
				t.Fatalf("records before the catch-up: %v", got)
			}
			if n, err := log.CatchUp(ctx, st, time.Minute); err != nil || n != 0 {
				t.Fatalf("catch-up within the grace appended %d (%v), want 0", n, err)
			}
			if n, err := log.CatchUp(ctx, st, 0); err != nil || n != 3 {
				t.Fatalf("catch-up appended %d (%v), want 3", n, err)
			}
			if n, err := log.CatchUp(ctx, st, 0); err != nil || n != 0 {
				t.Fatalf("second catch-up appended %d (%v), want 0", n, err)
			}
			agencies, err := audited.Agencies(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var land string
			for _, a := range agencies {
				if a.Name == "Land Department" {
					land = a.ID
				}
			}
			got := agencyRecords(t, st)
			want := map[string]int{"agency.added agency:" + land: 1, "agency.key-rotated agency:" + land: 1, "agency.disabled agency:" + land: 1,
				"agency.added agency:" + other.Agency.ID: 1}
			if len(got) != len(want) {
				t.Errorf("records after the catch-up: %v, want %v", got, want)
			}
			for k, n := range want {
				if got[k] != n {
					t.Errorf("%s: %d records, want %d", k, got[k], n)
				}
			}
			if p, err := st.PendingAudits(ctx, time.Unix(1<<40, 0), 1000); err != nil || len(p) != 0 {
				t.Errorf("records still pending after the catch-up: %d, %v", len(p), err)
			}
			if _, err := log.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := audit.Verify(ctx, st, log.Verifier()); err != nil {
				t.Fatalf("audit verify: %v", err)
			}
		})
	}
}

// agencyRecords counts the log's records by "action subject", checking
// that each names a distinct source.
func agencyRecords(t *testing.T, st audit.Reader) map[string]int {
	t.Helper()
	es, err := st.AuditEntries(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	sources := map[string]bool{}
	for _, e := range es {
		r, err := audit.ParseRecord(e.Record)
		if err != nil {
			t.Fatal(err)
		}
		out[r.Action+" "+r.Subject]++
		if !strings.HasPrefix(r.Source, "signing.agency:") || sources[r.Source] {
			t.Errorf("record %d: source %q missing or repeated", r.Index, r.Source)
		}
		sources[r.Source] = true
	}
	return out
}

// TestRecoveryAndWebhookAuditCatchUp: a signing recovered and a webhook
// given up on, each committed without its audit record (the process died
// after the commit), get their records from the catch-up, once each.
func TestRecoveryAndWebhookAuditCatchUp(t *testing.T) {
	for name, open := range outboxStores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			defer st.Close()
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
			defer hook.Close()
			now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
			err := st.SigningUpdate(ctx, func(tx store.SigningTx) error {
				if _, err := tx.PutSignRequest(store.SignRequest{ID: "stuck", NationalID: "9871000001", State: store.SignSigning, Created: now.Add(-time.Hour),
					Expires: now.Add(time.Hour), SigningSince: now.Add(-3 * time.Minute)}); err != nil {
					return err
				}
				if err := tx.InsertAgency(store.Agency{ID: "ag", Name: "Agency", WebhookURL: hook.URL, WebhookSecret: []byte("s"), Created: now}); err != nil {
					return err
				}
				_, err := tx.PutWebhook(store.WebhookDelivery{ID: "d1", Agency: "ag", RequestID: "r1", Body: []byte(`{}`),
					Created: now, State: store.WebhookPending, NextAttempt: now})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			crashing, err := signing.New(st, noApprover{}, noTrust{}, signing.Options{Audit: crashingAuditor{}, Clock: func() time.Time { return now }, WebhookAttempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := crashing.Recover(ctx); !errors.Is(err, errCrash) {
				t.Fatalf("recover: %v, want the crash", err)
			}
			if n, err := crashing.DeliverWebhooks(ctx); n != 1 || err != nil {
				t.Fatalf("DeliverWebhooks = %d, %v", n, err)
			}
			var d store.WebhookDelivery
			st.SigningView(ctx, func(tx store.SigningTx) (err error) { d, err = tx.Webhook("d1"); return err })
			if d.State != store.WebhookFailed {
				t.Fatalf("delivery %s, want failed", d.State)
			}
			ast := st.(interface {
				audit.Store
				audit.PendingStore
			})
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			log, err := audit.New(ast, key, audit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := log.CatchUp(ctx, ast, 0); err != nil || n != 2 {
				t.Fatalf("catch-up appended %d (%v), want 2", n, err)
			}
			if n, err := log.CatchUp(ctx, ast, 0); err != nil || n != 0 {
				t.Fatalf("second catch-up appended %d (%v), want 0", n, err)
			}
			es, err := ast.AuditEntries(ctx, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				r, err := audit.ParseRecord(e.Record)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r.Action+" "+r.Subject+" "+r.Source)
			}
			slices.Sort(got)
			want := []string{"signing.recover sign-request:stuck signing.recover:stuck/2", "signing.webhook-failed sign-request:r1 signing.webhook-failed:d1"}
			if !slices.Equal(got, want) {
				t.Errorf("records: %q, want %q", got, want)
			}
			if _, err := log.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := audit.Verify(ctx, ast, log.Verifier()); err != nil {
				t.Fatalf("audit verify: %v", err)
			}
		})
	}
}
