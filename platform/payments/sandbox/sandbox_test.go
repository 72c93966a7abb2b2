package sandbox

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var secret = bytes.Repeat([]byte{7}, 32)

func TestSignVerify(t *testing.T) {
	now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	body := []byte(`{"a":1}`)
	good := Sign(secret, body, now)
	tests := []struct {
		name string
		h    http.Header
		body []byte
		at   time.Time
		ok   bool
	}{
		{"good", good, body, now, true},
		{"4 minutes late", good, body, now.Add(4 * time.Minute), true},
		{"6 minutes late", good, body, now.Add(6 * time.Minute), false},
		{"6 minutes early", good, body, now.Add(-6 * time.Minute), false},
		{"other body", good, []byte(`{"a":2}`), now, false},
		{"other key", Sign(bytes.Repeat([]byte{8}, 32), body, now), body, now, false},
		{"no headers", http.Header{}, body, now, false},
		{"bad hex", http.Header{HeaderTimestamp: good[HeaderTimestamp], HeaderSignature: {"v1=zz"}}, body, now, false},
		{"no version", http.Header{HeaderTimestamp: good[HeaderTimestamp], HeaderSignature: {strings.TrimPrefix(good.Get(HeaderSignature), "v1=")}}, body, now, false},
		{"huge timestamp", http.Header{HeaderTimestamp: {"99999999999999999"}, HeaderSignature: good[HeaderSignature]}, body, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(secret, tt.h, tt.body, tt.at)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrSignature)) {
				t.Fatalf("Verify = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestLoadSecret(t *testing.T) {
	for in, ok := range map[string]bool{
		strings.Repeat("ab", 32) + "\n": true,
		strings.Repeat("ab", 31):        false,
		"not hex":                       false,
		"":                              false,
	} {
		if _, err := LoadSecret([]byte(in)); (err == nil) != ok {
			t.Errorf("LoadSecret(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}

func TestCards(t *testing.T) {
	for in, ok := range map[string]bool{
		"4242 4242 4242 4242": true, CardDeclined: true, "4242-4242-4242-4241": false,
		"4242": false, "4242 4242 4242 424x": false, "42424242424242424242": false,
	} {
		if _, got := cleanCard(in); got != ok {
			t.Errorf("cleanCard(%q) = %v, want %v", in, got, ok)
		}
	}
}

// TestAPIRequiresSignature: the gateway's API refuses calls that Thiqa did
// not sign, and a refund's idempotency key gives the same refund.
func TestAPIRequiresSignature(t *testing.T) {
	s, err := NewServer(ServerOptions{Secret: secret, CallbackURL: "http://127.0.0.1:1/cb"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, path := range []string{"/v1/checkouts", "/v1/refunds"} {
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(`{}`))
		if err != nil || resp.StatusCode != 401 {
			t.Fatalf("unsigned %s: %v %v", path, resp.Status, err)
		}
		resp.Body.Close()
	}
	c, _ := NewClient(srv.URL, bytes.Repeat([]byte{9}, 32), ClientOptions{})
	if _, err := c.Transactions(t.Context()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("client with the wrong secret: %v", err)
	}
	s.txns["txn_1"] = &txn{ID: "txn_1", AmountFils: 100, State: "succeeded", Currency: "JOD"}
	c, _ = NewClient(srv.URL, secret, ClientOptions{})
	r1, err := c.Refund(t.Context(), "txn_1", 60, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if r2, err := c.Refund(t.Context(), "txn_1", 60, "k1"); err != nil || r2 != r1 {
		t.Fatalf("same key again: %s %v, want %s", r2, err, r1)
	}
	if _, err := c.Refund(t.Context(), "txn_1", 60, "k2"); err == nil {
		t.Fatal("refunded more than was paid")
	}
	if _, err := NewServer(ServerOptions{Secret: secret[:16], CallbackURL: "http://x/cb"}); err == nil {
		t.Fatal("short secret accepted")
	}
	if _, err := NewServer(ServerOptions{Secret: secret, CallbackURL: "ftp://x"}); err == nil {
		t.Fatal("bad callback URL accepted")
	}
}
