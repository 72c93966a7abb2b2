package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a signed message (callbacks to Thiqa, API calls to the
// gateway).
const (
	HeaderTimestamp = "Sandbox-Timestamp"
	HeaderSignature = "Sandbox-Signature"
)

// Window is how far a message's timestamp may be from the receiver's
// clock; older messages are refused as replays.
const Window = 5 * time.Minute

// MinSecret is the shortest shared secret accepted, in bytes.
const MinSecret = 32

// ErrSignature: a message's signature or timestamp is wrong.
var ErrSignature = errors.New("sandbox: bad signature")

// Sign returns the headers that authenticate body sent at t:
// "v1=" + hex HMAC-SHA256(secret, timestamp + "." + body).
func Sign(secret, body []byte, t time.Time) http.Header {
	ts := strconv.FormatInt(t.Unix(), 10)
	h := http.Header{}
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, "v1="+hex.EncodeToString(mac(secret, ts, body)))
	return h
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks the headers h of body at now: the timestamp within
// Window and the signature, compared in constant time.
func Verify(secret []byte, h http.Header, body []byte, now time.Time) error {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(ts) > 12 {
		return fmt.Errorf("%w: missing or malformed timestamp", ErrSignature)
	}
	at := time.Unix(sec, 0)
	if d := now.Sub(at); d > Window || d < -Window {
		return fmt.Errorf("%w: timestamp %s outside the %s window", ErrSignature, at.UTC().Format(time.RFC3339), Window)
	}
	sig, ok := strings.CutPrefix(h.Get(HeaderSignature), "v1=")
	got, err := hex.DecodeString(sig)
	if !ok || err != nil {
		return fmt.Errorf("%w: missing or malformed signature", ErrSignature)
	}
	if !hmac.Equal(got, mac(secret, ts, body)) {
		return fmt.Errorf("%w: signature does not match", ErrSignature)
	}
	return nil
}

// LoadSecret reads a shared secret file: the secret in hex (at least 64
// hex digits, so 32 bytes), surrounding spaces ignored.
func LoadSecret(b []byte) ([]byte, error) {
	s, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("secret file: want hex: %w", err)
	}
	if len(s) < MinSecret {
		return nil, fmt.Errorf("secret file: %d bytes, want at least %d", len(s), MinSecret)
	}
	return s, nil
}
