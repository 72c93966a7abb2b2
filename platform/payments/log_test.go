package payments_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/platform/payments"
	"github.com/thiqa/thiqa/platform/payments/sandbox"
)

// logSink keeps the service's log lines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer // since the last records
	all bytes.Buffer // everything
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	return l.buf.Write(p)
}

// records returns the JSON records logged since the last call.
func (l *logSink) records(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	l.buf.Reset()
	return out
}

// TestRefusedCallbacksAreLogged: every refused callback (forged, stale,
// wrong amount, unknown invoice, a second payment of a paid invoice) leaves
// one WARN line saying why, naming the invoice when the callback was
// authentic; neither the shared secret nor the callback's signature is
// ever logged.
func TestRefusedCallbacksAreLogged(t *testing.T) {
	logs := &logSink{}
	e := newEnv(t, payments.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	inv := e.invoice(t, "req-log", 3000)
	logs.records(t) // the invoice's creation
	var signatures []string
	sign := func(secret, body []byte, at time.Time) map[string][]string {
		h := sandbox.Sign(secret, body, at)
		signatures = append(signatures, h.Get(sandbox.HeaderSignature))
		return h
	}
	forged, stale := callbackBody(inv.ID, "t1", 3000, "JOD"), callbackBody(inv.ID, "t2", 3000, "JOD")
	for _, tc := range []struct {
		name    string
		h       map[string][]string
		body    []byte
		status  int
		reason  string
		invoice string // "" when the callback was not authentic
	}{
		{"forged", sign(make([]byte, 32), forged, time.Now()), forged, 401, "signature does not match", ""},
		{"stale", sign(e.secret, stale, time.Now().Add(-time.Hour)), stale, 401, "outside the", ""},
		{"unsigned", map[string][]string{}, callbackBody(inv.ID, "t3", 3000, "JOD"), 401, "missing or malformed", ""},
		{"wrong amount", nil, callbackBody(inv.ID, "t4", 300, "JOD"), 422, "300 JOD paid, invoice is 3000 JOD", inv.ID},
		{"wrong currency", nil, callbackBody(inv.ID, "t5", 3000, "EUR"), 422, "3000 EUR paid", inv.ID},
		{"unknown invoice", nil, callbackBody("inv_nope", "t6", 3000, "JOD"), 422, `no invoice "inv_nope"`, "inv_nope"},
		{"paid", nil, callbackBody(inv.ID, "t7", 3000, "JOD"), 200, "", ""},
		{"second payment", nil, callbackBody(inv.ID, "t8", 3000, "JOD"), 409, "already paid (transaction t7)", inv.ID},
		{"first payment delivered again", nil, callbackBody(inv.ID, "t7", 3000, "JOD"), 200, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			if h == nil {
				h = sign(e.secret, tc.body, time.Now())
			}
			if got := e.post(t, h, tc.body); got != tc.status {
				t.Fatalf("status %d, want %d", got, tc.status)
			}
			var warned []map[string]any
			for _, r := range logs.records(t) {
				if r["level"] == "WARN" {
					warned = append(warned, r)
				}
			}
			if tc.reason == "" {
				if len(warned) != 0 {
					t.Fatalf("an accepted callback logged a refusal: %v", warned)
				}
				return
			}
			if len(warned) != 1 || warned[0]["msg"] != "payment callback refused" || !strings.Contains(warned[0]["reason"].(string), tc.reason) {
				t.Fatalf("logged %v, want one refusal saying %q", warned, tc.reason)
			}
			if got, _ := warned[0]["invoice"].(string); got != tc.invoice {
				t.Fatalf("refusal logged for invoice %q, want %q", got, tc.invoice)
			}
		})
	}
	// Everything logged, checked once more as a whole: no secret, no
	// signature.
	last := callbackBody(inv.ID, "t9", 1, "JOD")
	if got := e.post(t, sign(e.secret, last, time.Now()), last); got != 422 {
		t.Fatalf("last callback: %d", got)
	}
	logs.mu.Lock()
	all := logs.all.String()
	logs.mu.Unlock()
	if !strings.Contains(all, "t9") {
		t.Fatalf("the last refusal is not in the log:\n%s", all)
	}
	if strings.Contains(all, hex.EncodeToString(e.secret)) {
		t.Fatal("the shared secret is in the log")
	}
	for _, s := range signatures {
		if strings.Contains(all, strings.TrimPrefix(s, "v1=")) {
			t.Fatal("a callback signature is in the log")
		}
	}
}
