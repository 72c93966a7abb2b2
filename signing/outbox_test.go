package signing_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// Neither is called by webhook delivery.
type noApprover struct{ signing.Approver }
type noTrust struct{ signing.Trust }

type outboxStore interface {
	signing.Store
	Close() error
}

// outboxStores open, by name, each store the replicas may share.
var outboxStores = map[string]func(t *testing.T) outboxStore{
	"bolt": func(t *testing.T) outboxStore {
		st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
		if err != nil {
			t.Fatal(err)
		}
		return st
	},
	"postgres": func(t *testing.T) outboxStore {
		st, err := store.OpenPostgres(context.Background(), pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		return st
	},
}

// TestWebhooksAcrossReplicas: three replicas deliver a queue of webhooks
// at once; each delivery reaches the receiver exactly once (it never
// fails here) and is recorded delivered.
func TestWebhooksAcrossReplicas(t *testing.T) {
	for name, open := range outboxStores {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			defer st.Close()
			runReplicas(t, st)
		})
	}
}

func runReplicas(t *testing.T, st outboxStore) {
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("X-Thiqa-Delivery")]++
		mu.Unlock()
	}))
	defer hook.Close()
	now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	const n = 100
	err := st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		if err := tx.InsertAgency(store.Agency{ID: "ag", Name: "Agency", WebhookURL: hook.URL, WebhookSecret: []byte("s"), Created: now}); err != nil {
			return err
		}
		for i := range n {
			d := store.WebhookDelivery{ID: fmt.Sprintf("d%03d", i), Agency: "ag", RequestID: fmt.Sprintf("r%03d", i),
				Event: "sign-request.signed", Body: []byte(`{}`), Created: now, State: store.WebhookPending, NextAttempt: now}
			if _, err := tx.PutWebhook(d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	attempted := onReplicas(t, st, now, func(svc *signing.Service) (int, error) {
		total := 0
		for {
			k, err := svc.DeliverWebhooks(ctx)
			if err != nil || k == 0 {
				return total, err
			}
			total += k
		}
	})
	if attempted != n || len(seen) != n {
		t.Fatalf("%d attempts, %d distinct deliveries received; want %d each", attempted, len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("delivery %s received %d times", id, k)
		}
	}
	st.SigningView(ctx, func(tx store.SigningTx) error {
		due, err := tx.DueWebhooks(now.Add(24*time.Hour), n)
		if err != nil || len(due) != 0 {
			t.Errorf("%d deliveries still pending (%v)", len(due), err)
		}
		d, err := tx.Webhook("d042")
		if err != nil || d.State != store.WebhookDelivered || d.Attempts != 1 {
			t.Errorf("d042: %+v %v", d, err)
		}
		return nil
	})
}

// onReplicas runs work on three signing services over st at once, as
// three replicas of thiqa serve would, and returns the sum of the counts
// they report.
func onReplicas(t *testing.T, st signing.Store, now time.Time, work func(*signing.Service) (int, error)) int64 {
	t.Helper()
	var sum atomic.Int64
	var wg sync.WaitGroup
	for range 3 {
		svc, err := signing.New(st, noApprover{}, noTrust{}, signing.Options{Clock: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			k, err := work(svc)
			if err != nil {
				t.Error(err)
			}
			sum.Add(int64(k))
		})
	}
	wg.Wait()
	return sum.Load()
}

// TestRecoverAcrossReplicas: a request left in state signing by a killed
// process is put back to pending once, however many replicas recover at
// the same time; one still within RecoverAfter is left alone.
func TestRecoverAcrossReplicas(t *testing.T) {
	for name, open := range outboxStores {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			defer st.Close()
			ctx := context.Background()
			now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
			err := st.SigningUpdate(ctx, func(tx store.SigningTx) error {
				for id, since := range map[string]time.Duration{"stuck": 3 * time.Minute, "busy": 30 * time.Second} {
					r := store.SignRequest{ID: id, NationalID: "9871000001", State: store.SignSigning, Created: now.Add(-time.Hour),
						Expires: now.Add(time.Hour), SigningSince: now.Add(-since)}
					if _, err := tx.PutSignRequest(r); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			moved := onReplicas(t, st, now, func(svc *signing.Service) (int, error) { return svc.Recover(ctx) })
			if moved != 1 {
				t.Fatalf("%d requests moved by three replicas, want 1", moved)
			}
			st.SigningView(ctx, func(tx store.SigningTx) error {
				stuck, _ := tx.SignRequest("stuck")
				busy, _ := tx.SignRequest("busy")
				if stuck.State != store.SignPending || stuck.Version != 2 || busy.State != store.SignSigning {
					t.Errorf("stuck %s v%d, busy %s", stuck.State, stuck.Version, busy.State)
				}
				left, err := tx.SignRequestsInState(store.SignSigning, 10)
				if err != nil || len(left) != 1 || left[0].ID != "busy" {
					t.Errorf("still signing: %v %v", left, err)
				}
				return nil
			})
		})
	}
}

// TestRunWorker: the worker that thiqa serve runs delivers due webhooks
// and recovers interrupted requests on its own, and stops with its
// context.
func TestRunWorker(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	got := make(chan string, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Get("X-Thiqa-Delivery") }))
	defer hook.Close()
	now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	err = st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		if err := tx.InsertAgency(store.Agency{ID: "ag", Name: "Agency", WebhookURL: hook.URL, WebhookSecret: []byte("s"), Created: now}); err != nil {
			return err
		}
		if _, err := tx.PutWebhook(store.WebhookDelivery{ID: "d1", Agency: "ag", RequestID: "r0", Body: []byte(`{}`),
			Created: now, State: store.WebhookPending, NextAttempt: now}); err != nil {
			return err
		}
		_, err := tx.PutSignRequest(store.SignRequest{ID: "r1", NationalID: "9871000001", State: store.SignSigning,
			Created: now.Add(-time.Hour), Expires: now.Add(time.Hour), SigningSince: now.Add(-time.Hour)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := signing.New(st, noApprover{}, noTrust{}, signing.Options{Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		svc.Run(wctx, 10*time.Millisecond, func(err error) { t.Error(err) })
	}()
	select {
	case id := <-got:
		if id != "d1" {
			t.Errorf("delivered %q", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the worker delivered nothing")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var r store.SignRequest
		st.SigningView(ctx, func(tx store.SigningTx) (err error) { r, err = tx.SignRequest("r1"); return err })
		if r.State == store.SignPending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not recover the request (%s)", r.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop with its context")
	}
}

// TestWebhookNoRedirect: a receiver answering with a redirect is not
// followed; the attempt counts as failed and will be retried.
func TestWebhookNoRedirect(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var elsewhere atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer target.Close()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer hook.Close()
	ctx := context.Background()
	now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	err = st.SigningUpdate(ctx, func(tx store.SigningTx) error {
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
	svc, err := signing.New(st, noApprover{}, noTrust{}, signing.Options{Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := svc.DeliverWebhooks(ctx); n != 1 || err != nil {
		t.Fatalf("DeliverWebhooks = %d, %v", n, err)
	}
	var d store.WebhookDelivery
	st.SigningView(ctx, func(tx store.SigningTx) (err error) { d, err = tx.Webhook("d1"); return err })
	if elsewhere.Load() != 0 || d.State != store.WebhookPending || d.LastStatus != http.StatusTemporaryRedirect || d.Attempts != 1 {
		t.Fatalf("redirect followed %d times; delivery %+v", elsewhere.Load(), d)
	}
}
