package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/loadtest"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// TestCrashUnderPasskeyLoad kills thiqa serve with SIGKILL while citizens
// sign in and approve agencies' sign requests with their passkeys
// (internal/loadtest's SignIn and Approve over loopback HTTP), restarts it,
// and checks that every request acknowledged as signed is signed with its
// signed PDF, that the citizens sign in again, and that the audit log
// verifies. The load is bounded: at most 400 operations or 2 minutes.
func TestCrashUnderPasskeyLoad(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	phones, agencyKey := passkeyCitizens(t, data, 4)
	pdf := testenv.CorpusPDF(t, "testfile20.pdf")
	addr := freeAddr(t)
	srv, _ := serve(t, data, addr)
	base := "http://" + addr

	var (
		mu     sync.Mutex
		signed []string
	)
	load, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		loadtest.Run(load, loadtest.Config{Base: base, Workers: 4, MaxOps: 400, For: 2 * time.Minute,
			Ops: []loadtest.Op{loadtest.SignIn(1, phones), loadtest.Approve(2, agencyKey, pdf, phones, func(id string) {
				mu.Lock()
				signed = append(signed, id)
				mu.Unlock()
			})}})
	}()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(signed) >= 8 })
	if err := srv.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	srv.Wait()
	mu.Lock()
	acked := append([]string(nil), signed...)
	mu.Unlock()
	stop()
	<-done

	srv2, _ := serve(t, data, addr)
	for _, id := range acked {
		var view struct {
			State string `json:"state"`
		}
		getJSONAuth(t, base+"/api/v1/sign-requests/"+id, agencyKey, &view)
		if view.State != store.SignSigned {
			t.Fatalf("request %s acknowledged as signed is %q after the crash", id, view.State)
		}
		if b := getAuth(t, base+"/api/v1/sign-requests/"+id+"/documents/0/signed", agencyKey); !strings.HasPrefix(string(b), "%PDF") || len(b) <= len(pdf) {
			t.Fatalf("signed PDF of %s after the crash: %d bytes", id, len(b))
		}
	}
	res, err := loadtest.Run(ctx, loadtest.Config{Base: base, Workers: 2, MaxOps: 8, Ops: []loadtest.Op{loadtest.SignIn(1, phones)}})
	if err != nil || res.Ops["signin"].Errors != 0 {
		t.Fatalf("sign-ins after the restart: %+v, %v", res.Ops["signin"], err)
	}
	srv2.Process.Signal(os.Interrupt)
	srv2.Wait()
	if out, code := run(t, nil, "--data", data, "audit", "verify"); code != 0 || !strings.Contains(out, "OK ") {
		t.Fatalf("audit verify after the crash: exit %d\n%s", code, out)
	}
	t.Logf("%d approvals acknowledged before SIGKILL, all signed after the restart", len(acked))
}

// passkeyCitizens creates the data directory and, with the server stopped,
// count activated citizens with virtual phones and an agency; it returns
// the phones and the agency's API key.
func passkeyCitizens(t *testing.T, data string, count int) ([]*loadtest.Phone, string) {
	t.Helper()
	ctx := context.Background()
	n, _, err := node.Open(ctx, node.Options{Dir: data, Create: true, CA: ca.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var phones []*loadtest.Phone
	for _, ph := range testenv.Citizens(t, n.Enrollment, "98655500", count) {
		phones = append(phones, &loadtest.Phone{NationalID: ph.NationalID, RP: testenv.RP, Auth: ph.Auth, Cred: ph.Cred})
	}
	key, err := n.Signing.AddAgency(ctx, signing.NewAgency{Name: "Crash Agency", Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		t.Fatal(err)
	}
	return phones, key.Key
}

func getAuth(t *testing.T, url, token string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b.String())
	}
	return []byte(b.String())
}

func getJSONAuth(t *testing.T, url, token string, v any) {
	t.Helper()
	if err := json.Unmarshal(getAuth(t, url, token), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
