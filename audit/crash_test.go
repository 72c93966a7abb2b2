package audit_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/store"
)

// TestCrashDuringAppends kills (SIGKILL) a process that appends from 16
// goroutines and signs checkpoints, then checks that every append it
// acknowledged is in the log with the same leaf hash and that the whole log
// verifies.
func TestCrashDuringAppends(t *testing.T) {
	if os.Getenv("THIQA_AUDIT_CRASH_CHILD") != "" {
		crashChild()
		return
	}
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(dir, "key.der")
	os.WriteFile(keyFile, der, 0o600)
	dbFile := filepath.Join(dir, "thiqa.db")

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringAppends$")
	cmd.Env = append(os.Environ(), "THIQA_AUDIT_CRASH_CHILD=1", "THIQA_AUDIT_DB="+dbFile, "THIQA_AUDIT_KEY="+keyFile)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	acked := map[uint64]string{}
	sc := bufio.NewScanner(stdout)
	deadline := time.Now().Add(time.Minute)
	for len(acked) < 300 && sc.Scan() {
		idx, hash, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		i, err := strconv.ParseUint(idx, 10, 64)
		if err != nil {
			t.Fatalf("child said %q", sc.Text())
		}
		acked[i] = hash
		if time.Now().After(deadline) {
			t.Fatal("child too slow")
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for sc.Scan() { // acknowledged before the kill, read after
		if idx, hash, ok := strings.Cut(sc.Text(), " "); ok {
			if i, err := strconv.ParseUint(idx, 10, 64); err == nil {
				acked[i] = hash
			}
		}
	}

	st, err := store.OpenBolt(dbFile)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := audit.New(st, key, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rep, err := audit.Verify(ctx, st, l.Verifier())
	if err != nil {
		t.Fatalf("log after SIGKILL: %v", err)
	}
	for i, hash := range acked {
		hs, err := st.AuditNodes(ctx, []store.AuditNodeID{{Level: 0, Index: i}})
		if err != nil || hex.EncodeToString(hs[0]) != hash {
			t.Fatalf("acknowledged record %d: %x, %v; want %s", i, hs, err, hash)
		}
	}
	if rep.Records < uint64(len(acked)) || rep.Checkpoints == 0 {
		t.Fatalf("report %+v after %d acknowledged appends", rep, len(acked))
	}
	t.Logf("%d appends acknowledged, %d records after the crash, %d checkpoints", len(acked), rep.Records, rep.Checkpoints)
}

// crashChild appends until killed, printing "index leafhash" for each
// acknowledged append.
func crashChild() {
	der, err := os.ReadFile(os.Getenv("THIQA_AUDIT_KEY"))
	if err != nil {
		panic(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		panic(err)
	}
	st, err := store.OpenBolt(os.Getenv("THIQA_AUDIT_DB"))
	if err != nil {
		panic(err)
	}
	l, err := audit.New(st, key.(*ecdsa.PrivateKey), audit.Options{})
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := 0; i < 10000; i++ {
				r, err := l.Append(context.Background(), event(g*10000+i))
				if err != nil {
					panic(err)
				}
				mu.Lock()
				fmt.Fprintf(out, "%d %x\n", r.Index, r.LeafHash)
				out.Flush()
				mu.Unlock()
				if r.Index%50 == 0 {
					l.Checkpoint(context.Background())
				}
			}
		})
	}
	wg.Wait()
}
