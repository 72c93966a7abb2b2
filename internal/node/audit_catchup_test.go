package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/store"
)

// crashingAuditor stands for a process killed between an enrollment
// transaction's commit and its audit append: the change is stored, the
// append never reaches the log.
type crashingAuditor struct{}

var errCrash = errors.New("killed before the audit append")

func (crashingAuditor) Append(context.Context, audit.Event) (audit.Receipt, error) {
	return audit.Receipt{}, errCrash
}

// crashAfterCommit creates centres codes through an enrollment service on
// n's store whose audit appends all "crash" after the commit, and checks
// that each centre is stored all the same.
func crashAfterCommit(t *testing.T, n *Node, codes ...string) {
	t.Helper()
	ctx := context.Background()
	svc, err := enrollment.New(n.Store, n.Keys, n.CA, enrollment.Options{Audit: crashingAuditor{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range codes {
		_, err := svc.CreateCentre(ctx, enrollment.Operator("root"), store.Centre{Code: code, NameAr: "مركز", NameEn: "Centre " + code, Governorate: "Amman"})
		if !errors.Is(err, errCrash) {
			t.Fatalf("create centre %s: %v, want the crash", code, err)
		}
	}
	cs, err := n.Enrollment.Centres(ctx)
	if err != nil || len(cs) < len(codes) {
		t.Fatalf("centres after the crash = %d, %v", len(cs), err)
	}
}

// centreRecords counts the audit records of the creation of each centre
// and checks that each names its source event.
func centreRecords(t *testing.T, st audit.Reader) map[string]int {
	t.Helper()
	ctx := context.Background()
	out := map[string]int{}
	sources := map[string]bool{}
	for next := uint64(0); ; {
		es, err := st.AuditEntries(ctx, next, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			return out
		}
		for _, e := range es {
			r, err := audit.ParseRecord(e.Record)
			if err != nil {
				t.Fatal(err)
			}
			if r.Action != "enrollment.centre-create" {
				continue
			}
			out[strings.TrimPrefix(r.Subject, "centre:")]++
			if !strings.HasPrefix(r.Source, "enrollment.event:") || sources[r.Source] {
				t.Errorf("record %d: source %q missing or repeated", r.Index, r.Source)
			}
			sources[r.Source] = true
		}
		next = es[len(es)-1].Index + 1
	}
}

// farFuture is later than any test event.
var farFuture = time.Now().Add(24 * time.Hour)

func verifyAudit(t *testing.T, n *Node) {
	t.Helper()
	ctx := context.Background()
	if _, err := n.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(ctx, n.Store, n.Audit.Verifier()); err != nil {
		t.Fatalf("audit verify: %v", err)
	}
}

// TestAuditCatchUpAfterCrash: enrollment changes committed without their
// audit records (the process died in between) get them when the node is
// opened again, exactly once, and the log verifies; opening once more or
// catching up again appends nothing, and a change whose record was
// appended normally is not copied a second time.
func TestAuditCatchUpAfterCrash(t *testing.T) {
	ctx := context.Background()
	opts := Options{Dir: filepath.Join(t.TempDir(), "node"), Create: true, CA: ca.DefaultConfig()}
	n, _, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Enrollment.CreateCentre(ctx, enrollment.Operator("root"), store.Centre{Code: "AMM-01", NameAr: "عمّان", NameEn: "Amman", Governorate: "Amman"}); err != nil {
		t.Fatal(err)
	}
	crashAfterCommit(t, n, "IRB-01", "ZRQ-01")
	if got := centreRecords(t, n.Store); got["IRB-01"] != 0 || got["AMM-01"] != 1 {
		t.Fatalf("records before the restart = %v", got)
	}
	n.Close()

	opts.Create = false
	for range 2 {
		n, _, err = Open(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if added, err := n.Enrollment.CatchUpAudit(ctx, 0); err != nil || added != 0 {
			t.Fatalf("catch-up after open appended %d (%v), want 0", added, err)
		}
		got := centreRecords(t, n.Store)
		for _, code := range []string{"AMM-01", "IRB-01", "ZRQ-01"} {
			if got[code] != 1 {
				t.Errorf("%d records of centre %s, want 1", got[code], code)
			}
		}
		verifyAudit(t, n)
		n.Close()
	}
	b, err := store.OpenBolt(filepath.Join(opts.Dir, "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if p, err := b.PendingAuditEvents(ctx, farFuture, 1000); err != nil || len(p) != 0 {
		t.Errorf("events still pending audit after the catch-up: %d, %v", len(p), err)
	}
}

// TestAuditCatchUpReplicas: on PostgreSQL, after a replica "crashed" past
// its commits, two replicas catching up at the same time append each
// missing record once between them.
func TestAuditCatchUpReplicas(t *testing.T) {
	ctx := context.Background()
	a, b := openReplicas(t)
	var codes []string
	for i := range 40 {
		codes = append(codes, fmt.Sprintf("C%02d-01", i))
	}
	crashAfterCommit(t, a, codes...)
	var (
		wg     sync.WaitGroup
		added  [2]int
		errs   [2]error
		starts = make(chan struct{})
	)
	for i, n := range []*Node{a, b} {
		wg.Go(func() {
			<-starts
			added[i], errs[i] = n.Enrollment.CatchUpAudit(ctx, 0)
		})
	}
	close(starts)
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	got := centreRecords(t, a.Store)
	for _, code := range codes {
		if got[code] != 1 {
			t.Errorf("%d records of centre %s, want 1", got[code], code)
		}
	}
	// A replica may count a record the other appended first; never more
	// than the two between them, and never fewer than the records missing.
	if added[0]+added[1] < len(codes) || added[0]+added[1] > 2*len(codes) {
		t.Errorf("replicas appended %v records for %d missing", added, len(codes))
	}
	verifyAudit(t, b)
	if p, err := a.Store.(*store.Postgres).PendingAuditEvents(ctx, farFuture, 1000); err != nil || len(p) != 0 {
		t.Errorf("events still pending audit after the catch-up: %d, %v", len(p), err)
	}
}

// TestRunAuditCatchUp: the loop `thiqa serve` runs copies a crashed
// write's record once the write is older than its interval, with no
// restart.
func TestRunAuditCatchUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, _, err := Open(ctx, Options{Dir: filepath.Join(t.TempDir(), "node"), Create: true, CA: ca.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	crashAfterCommit(t, n, "MAF-01")
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.RunAuditCatchUp(ctx, 20*time.Millisecond, func(err error) { t.Error(err) })
	}()
	for deadline := time.Now().Add(20 * time.Second); centreRecords(t, n.Store)["MAF-01"] == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the catch-up loop did not copy the record")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if got := centreRecords(t, n.Store)["MAF-01"]; got != 1 {
		t.Fatalf("%d records of the centre, want 1", got)
	}
	verifyAudit(t, n)
}
