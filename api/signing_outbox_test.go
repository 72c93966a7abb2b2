package api

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// hookReceiver is an agency's webhook endpoint that answers 503 to the
// first fail requests (all of them when fail < 0).
type hookReceiver struct {
	srv  *httptest.Server
	seen atomic.Int64
	got  chan received
}

type received struct {
	hook   signing.Webhook
	header http.Header
	body   []byte
	status int
}

func newHookReceiver(t *testing.T, fail int) *hookReceiver {
	t.Helper()
	h := &hookReceiver{got: make(chan received, 64)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		status := 200
		if n := h.seen.Add(1); fail < 0 || n <= int64(fail) {
			status = 503
		}
		var hook signing.Webhook
		json.Unmarshal(b, &hook)
		h.got <- received{hook: hook, header: r.Header.Clone(), body: b, status: status}
		w.WriteHeader(status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-h.got:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook arrived")
	}
	return received{}
}

func (e *signEnv) deliveries(t *testing.T, id string) []store.WebhookDelivery {
	t.Helper()
	var ds []store.WebhookDelivery
	err := e.st.SigningView(context.Background(), func(tx store.SigningTx) (err error) {
		ds, err = tx.WebhooksOf(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// signedWithHook runs a request of an agency with a webhook to signed and
// returns it with the agency's key.
func (e *signEnv) signedWithHook(t *testing.T, url string) (signing.RequestView, signing.AgencyKey) {
	t.Helper()
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	ph, tok := e.citizen(t, off, "9861234567")
	k, err := e.signing.AddAgency(context.Background(), signing.NewAgency{Name: "Hooked", Scopes: []string{signing.ScopeSignRequests}, WebhookURL: url})
	if err != nil {
		t.Fatal(err)
	}
	v := e.oneDocument(t, k.Key, "9861234567")
	if code, out := e.approve(t, ph, tok, v.ID); code != 200 {
		t.Fatalf("approve: %d %s", code, out)
	}
	return v, k
}

// TestWebhookRetried: a receiver that fails the first two attempts gets
// the same delivery (same id, same body, a valid HMAC each time) a third
// time after growing waits, and the outbox records it delivered.
func TestWebhookRetried(t *testing.T) {
	e := newSignEnv(t)
	e.rewire(t, countingApprover{e.svc, e.signs}, signing.Options{WebhookBackoff: 10 * time.Second})
	hook := newHookReceiver(t, 2)
	v, k := e.signedWithHook(t, hook.srv.URL)
	e.signing.Wait()
	ctx := context.Background()
	var first received
	var waits []time.Duration
	for attempt := 1; attempt <= 3; attempt++ {
		if attempt > 1 {
			// Not due yet: nothing is sent before the backoff has passed.
			if n, err := e.signing.DeliverWebhooks(ctx); err != nil || n != 0 {
				t.Fatalf("attempt %d: DeliverWebhooks before due = %d, %v", attempt, n, err)
			}
			d := e.deliveries(t, v.ID)[0]
			waits = append(waits, d.NextAttempt.Sub(*e.now))
			*e.now = d.NextAttempt
			if n, err := e.signing.DeliverWebhooks(ctx); err != nil || n != 1 {
				t.Fatalf("attempt %d: DeliverWebhooks = %d, %v", attempt, n, err)
			}
		}
		r := hook.next(t)
		if r.header.Get("X-Thiqa-Attempt") != strconv.Itoa(attempt) {
			t.Errorf("attempt %d has X-Thiqa-Attempt %q", attempt, r.header.Get("X-Thiqa-Attempt"))
		}
		want := signing.WebhookSignature([]byte(k.WebhookSecret), r.header.Get("X-Thiqa-Timestamp"), r.body)
		if !hmac.Equal([]byte(r.header.Get("X-Thiqa-Signature")), []byte(want)) {
			t.Errorf("attempt %d: bad signature", attempt)
		}
		if attempt == 1 {
			first = r
			if r.hook.ID == "" || r.header.Get("X-Thiqa-Delivery") != r.hook.ID || r.hook.State != store.SignSigned || r.hook.RequestID != v.ID {
				t.Fatalf("first delivery: %s %v", r.body, r.header)
			}
		} else if r.header.Get("X-Thiqa-Delivery") != first.hook.ID || string(r.body) != string(first.body) {
			t.Fatalf("attempt %d is not the same delivery: %s", attempt, r.body)
		}
	}
	if waits[0] < 5*time.Second || waits[0] > 10*time.Second || waits[1] < 10*time.Second || waits[1] > 20*time.Second {
		t.Errorf("waits %v, want about 10 s then about 20 s (with jitter)", waits)
	}
	ds := e.deliveries(t, v.ID)
	if len(ds) != 1 || ds[0].State != store.WebhookDelivered || ds[0].Attempts != 3 || ds[0].LastStatus != 200 || ds[0].LeaseOwner != "" {
		t.Fatalf("outbox: %+v", ds)
	}
	*e.now = e.now.Add(24 * time.Hour)
	if n, _ := e.signing.DeliverWebhooks(ctx); n != 0 || hook.seen.Load() != 3 {
		t.Fatalf("a delivered webhook was sent again (%d, %d)", n, hook.seen.Load())
	}
}

// TestWebhookGivesUp: after WebhookAttempts failures the delivery is
// marked failed with its last error, and never tried again.
func TestWebhookGivesUp(t *testing.T) {
	e := newSignEnv(t)
	e.rewire(t, countingApprover{e.svc, e.signs}, signing.Options{WebhookAttempts: 3})
	hook := newHookReceiver(t, -1)
	v, _ := e.signedWithHook(t, hook.srv.URL)
	e.signing.Wait()
	ctx := context.Background()
	for range 5 {
		*e.now = e.now.Add(2 * time.Hour)
		e.signing.DeliverWebhooks(ctx)
	}
	ds := e.deliveries(t, v.ID)
	if len(ds) != 1 || ds[0].State != store.WebhookFailed || ds[0].Attempts != 3 || ds[0].LastStatus != 503 || ds[0].LastError == "" || ds[0].Done.IsZero() {
		t.Fatalf("outbox: %+v", ds)
	}
	if hook.seen.Load() != 3 {
		t.Fatalf("%d attempts reached the receiver, want 3", hook.seen.Load())
	}
	if !e.audited(t, "signing.webhook-failed", "sign-request:"+v.ID) {
		t.Fatal("giving up was not recorded in the audit log")
	}
}

// audited reports whether the audit log holds a record of action on
// subject.
func (e *signEnv) audited(t *testing.T, action, subject string) bool {
	t.Helper()
	for i := uint64(0); ; i++ {
		r, _, err := e.audit.Entry(context.Background(), i)
		if err != nil {
			return false
		}
		if r.Action == action && r.Subject == subject {
			return true
		}
	}
}

// TestWebhookLease: a delivery claimed by a worker that then died is
// left alone until its lease ends, then delivered by another replica.
func TestWebhookLease(t *testing.T) {
	e := newSignEnv(t)
	hook := newHookReceiver(t, 0)
	// The first replica's client hangs up at once: as if it died
	// mid-delivery, without recording anything.
	dead := make(chan struct{})
	t0 := *e.now
	e.rewire(t, countingApprover{e.svc, e.signs}, signing.Options{WebhookLease: time.Minute, Clock: func() time.Time { return t0 },
		Webhooks: &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			<-dead
			return nil, errors.New("dead")
		})}})
	t.Cleanup(func() { close(dead) })
	v, _ := e.signedWithHook(t, hook.srv.URL)
	// The kick is stuck posting; see the lease it holds.
	deadline := time.Now().Add(5 * time.Second)
	for e.deliveries(t, v.ID)[0].LeaseOwner == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	d := e.deliveries(t, v.ID)[0]
	if d.LeaseOwner == "" || !d.LeaseUntil.Equal(t0.Add(time.Minute)) {
		t.Fatalf("delivery not leased: %+v", d)
	}
	other, err := signing.New(e.st, countingApprover{e.svc, e.signs}, signing.CATrust(e.ca), signing.Options{Clock: func() time.Time { return *e.now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n, _ := other.DeliverWebhooks(ctx); n != 0 {
		t.Fatalf("another replica took a leased delivery (%d)", n)
	}
	*e.now = e.now.Add(time.Minute)
	if n, err := other.DeliverWebhooks(ctx); n != 1 || err != nil {
		t.Fatalf("after the lease: %d, %v", n, err)
	}
	if r := hook.next(t); r.hook.RequestID != v.ID || r.header.Get("X-Thiqa-Attempt") != "1" {
		t.Fatalf("delivered %s", r.body)
	}
	if ds := e.deliveries(t, v.ID); ds[0].State != store.WebhookDelivered || ds[0].LeaseOwner != "" {
		t.Fatalf("outbox: %+v", ds[0])
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
