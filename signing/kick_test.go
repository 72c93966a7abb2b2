package signing

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/store"
)

type stubApprover struct{ Approver }
type stubTrust struct{ Trust }

// TestKickBurst: a burst of commits that each queue a webhook and kick is
// delivered in full by the time Wait returns, each delivery once, in fewer
// rounds than kicks.
func TestKickBurst(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	seen := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("X-Thiqa-Delivery")]++
		mu.Unlock()
	}))
	defer hook.Close()
	ctx := context.Background()
	now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	if err := st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		return tx.InsertAgency(store.Agency{ID: "ag", Name: "Agency", WebhookURL: hook.URL, WebhookSecret: []byte("s"), Created: now})
	}); err != nil {
		t.Fatal(err)
	}
	s, err := New(st, stubApprover{}, stubTrust{}, Options{Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := st.SigningUpdate(ctx, func(tx store.SigningTx) error {
				_, err := tx.PutWebhook(store.WebhookDelivery{ID: fmt.Sprintf("d%02d", i), Agency: "ag", RequestID: "r",
					Body: []byte(`{}`), Created: now, State: store.WebhookPending, NextAttempt: now})
				return err
			})
			if err != nil {
				t.Error(err)
				return
			}
			s.kick()
		}()
	}
	wg.Wait()
	s.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Fatalf("%d of %d deliveries arrived", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s arrived %d times", id, k)
		}
	}
}
