package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for a process's writes and the
// test's reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeLogsRequests checks that thiqa serve writes one JSON log line
// per API request on standard error, under the request ID it returns in
// X-Request-Id, and that the line holds neither the request's body (an
// activation code) nor its bearer token.
func TestServeLogsRequests(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	cmd := exec.Command(thiqaBin, "serve", "--data", data, "--addr", addr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "serving on ") {
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start:\n%s", stderr.String())
	}

	const code, token = "SECRETCODE-12345", "not-a-session-token-67890"
	send := func(method, path, body string) string {
		req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("X-Request-Id")
		if id == "" {
			t.Fatalf("%s %s: no X-Request-Id", method, path)
		}
		return id
	}
	want := map[string]struct {
		path   string
		status float64
	}{
		send("POST", "/api/v1/activation/begin", `{"national_id":"9861234567","code":"`+code+`"}`): {"/api/v1/activation/begin", 0},
		send("GET", "/api/v1/centres", ""): {"/api/v1/centres", 401},
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		found := map[string]map[string]any{}
		for _, l := range strings.Split(stderr.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(l), &rec) != nil || rec["msg"] != "request" {
				continue
			}
			if id, _ := rec["request_id"].(string); id != "" {
				found[id] = rec
			}
		}
		missing := 0
		for id, w := range want {
			rec, ok := found[id]
			if !ok {
				missing++
				continue
			}
			if rec["path"] != w.path || rec["level"] != "INFO" {
				t.Errorf("log line of %s: %v", id, rec)
			}
			if st, _ := rec["status"].(float64); (w.status != 0 && st != w.status) || st < 400 {
				t.Errorf("log line of %s: status %v", id, rec["status"])
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests not logged under their X-Request-Id; standard error:\n%s", missing, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if logs := stderr.String(); strings.Contains(logs, code) || strings.Contains(logs, token) {
		t.Errorf("the log holds the activation code or the bearer token:\n%s", logs)
	}
}
