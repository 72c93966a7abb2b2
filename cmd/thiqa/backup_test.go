package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testtool"
)

// TestBackupRestoreUnderLoad backs up a serving node while certificates are
// being issued, restores the archive into a new directory, checks the audit
// log there, serves it and asks OCSP about every certificate issued before
// the backup started.
func TestBackupRestoreUnderLoad(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	serve(t, data, addr)
	dir := t.TempDir()
	csrFile, subj := issueInputs(t, dir, citizenSubject)

	// Load: issue certificates one after the other until stopped (at most
	// 200), recording each acknowledged one.
	var (
		mu     sync.Mutex
		issued []string
		stop   = make(chan struct{})
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			select {
			case <-stop:
				return
			default:
			}
			out := filepath.Join(dir, fmt.Sprintf("c%d.pem", i))
			if msg, code := run(t, nil, "--data", data, "ca", "issue", "--profile", "citizen-signing", "--csr", csrFile, "--subject-json", subj, "--out", out); code != 0 {
				t.Errorf("ca issue: %d\n%s", code, msg)
				return
			}
			mu.Lock()
			issued = append(issued, out)
			mu.Unlock()
		}
	}()
	waitFor(t, func() bool {
		select {
		case <-done:
			t.Fatal("the load stopped early")
		default:
		}
		mu.Lock()
		defer mu.Unlock()
		return len(issued) >= 3
	})
	mu.Lock()
	before := append([]string(nil), issued...)
	mu.Unlock()
	archive := filepath.Join(dir, "backup.tar")
	out, code := run(t, nil, "--data", data, "backup", "--out", archive)
	close(stop)
	<-done
	if code != 0 || !strings.Contains(out, "key-encryption key is not in the backup") {
		t.Fatalf("backup: exit %d\n%s", code, out)
	}
	if out, code := run(t, nil, "--data", data, "backup", "--out", archive); code == 0 {
		t.Fatalf("backup overwrote an archive:\n%s", out)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	kek := filepath.Join(data, "kek")
	out, code = run(t, nil, "--data", restored, "--kek-file", kek, "restore", "--from", archive)
	if code != 0 || !strings.Contains(out, "OK ") {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	if out, code := run(t, nil, "--data", restored, "--kek-file", kek, "audit", "verify"); code != 0 {
		t.Fatalf("audit verify of the restored node: exit %d\n%s", code, out)
	}
	if out, code := run(t, nil, "--data", restored, "restore", "--from", archive); code == 0 {
		t.Fatalf("restore over a restored directory:\n%s", out)
	}

	os.WriteFile(filepath.Join(restored, "kek"), must(os.ReadFile(kek)), 0o600)
	addr2 := freeAddr(t)
	serve(t, restored, addr2)
	base := "http://" + addr2
	root := filepath.Join(dir, "root.pem")
	os.WriteFile(root, get(t, base+"/ca/root.pem"), 0o600)
	issuer := filepath.Join(dir, "ci.pem")
	os.WriteFile(issuer, get(t, base+"/ca/citizen-ca.pem"), 0o600)
	for _, cert := range before {
		out, err := exec.Command(openssl, "ocsp", "-issuer", issuer, "-cert", cert, "-url", base+"/ocsp", "-CAfile", root).CombinedOutput()
		if err != nil || !strings.Contains(string(out), cert+": good") || !strings.Contains(string(out), "Response verify OK") {
			t.Fatalf("OCSP from the restored node: %v\n%s", err, out)
		}
	}
	t.Logf("%d certificates issued before the backup, %d in all during the load", len(before), len(issued))
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
