package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/store"
)

// postJSONAuth posts v as JSON with a bearer token and decodes a 2xx
// answer into out.
func postJSONAuth(t *testing.T, url, token string, v, out any) {
	t.Helper()
	raw, _ := json.Marshal(v)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s %s", url, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("POST %s: %v", url, err)
		}
	}
}

// TestServeFinishesInFlightApproval stops thiqa serve with SIGTERM while a
// citizen's passkey approval is in flight (its body half sent): serve
// stops accepting connections but waits for the approval, which completes
// with the signature; serve then exits cleanly, and after a restart the
// request is signed with its signed PDF.
func TestServeFinishesInFlightApproval(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	phones, agencyKey := passkeyCitizens(t, data, 1)
	ph := phones[0]
	pdf := testenv.CorpusPDF(t, "testfile20.pdf")
	addr := freeAddr(t)
	srv, _ := serve(t, data, addr)
	base := "http://" + addr

	var req struct {
		ID string `json:"id"`
	}
	postJSONAuth(t, base+"/api/v1/sign-requests", agencyKey, map[string]any{"national_id": ph.NationalID, "purpose_ar": "اختبار الإيقاف",
		"purpose_en": "Shutdown test", "documents": []map[string]any{{"name": "doc.pdf", "content": pdf}}}, &req)
	type challenge struct {
		CeremonyID string          `json:"ceremony_id"`
		Options    json.RawMessage `json:"options"`
	}
	assert := func(options json.RawMessage) json.RawMessage {
		opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
		if err != nil {
			t.Fatal(err)
		}
		ph.Cred.Counter++
		return json.RawMessage(virtualwebauthn.CreateAssertionResponse(ph.RP, ph.Auth, ph.Cred, *opts))
	}
	var ch challenge
	postJSONAuth(t, base+"/api/v1/signin/begin", "", nil, &ch)
	var session struct {
		Token string `json:"token"`
	}
	postJSONAuth(t, base+"/api/v1/signin/finish", "", map[string]any{"ceremony_id": ch.CeremonyID, "credential": assert(ch.Options)}, &session)
	postJSONAuth(t, base+"/api/v1/sign-requests/"+req.ID+"/approval/begin", session.Token, nil, &ch)
	body, _ := json.Marshal(map[string]any{"ceremony_id": ch.CeremonyID, "credential": assert(ch.Options)})

	// The approval's request line, headers and half its body.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/sign-requests/%s/approval/finish HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", req.ID, addr, session.Token, len(body))
	half := len(body) / 2
	if _, err := conn.Write(body[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the server is reading the body

	exited := make(chan struct{})
	go func() { srv.Wait(); close(exited) }()
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Shutting down: no new connection is accepted, but serve waits.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("serve still accepts connections 10 s after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-exited:
		t.Fatalf("serve exited with an approval in flight (%v)", srv.ProcessState)
	case <-time.After(300 * time.Millisecond):
	}

	if _, err := conn.Write(body[half:]); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight approval got no answer: %v", err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var view struct {
		State string `json:"state"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(answer, &view) != nil || view.State != store.SignSigned {
		t.Fatalf("in-flight approval: %s %s", resp.Status, answer)
	}
	conn.Close()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after the in-flight approval")
	}
	if code := srv.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("serve exited with status %d after SIGTERM", code)
	}

	serve(t, data, addr)
	getJSONAuth(t, base+"/api/v1/sign-requests/"+req.ID, agencyKey, &view)
	if view.State != store.SignSigned {
		t.Fatalf("after the restart the request is %q", view.State)
	}
	if b := getAuth(t, base+"/api/v1/sign-requests/"+req.ID+"/documents/0/signed", agencyKey); !bytes.HasPrefix(b, []byte("%PDF")) || len(b) <= len(pdf) {
		t.Fatalf("signed PDF after the restart: %d bytes", len(b))
	}
}
