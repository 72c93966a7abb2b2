package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/store"
)

// crashIssue issues count certificates through a CA on n's keys and store
// whose audit appends all "crash" after the commit, and returns their
// serials.
func crashIssue(t *testing.T, n *Node, count int) []string {
	t.Helper()
	ctx := context.Background()
	svc, err := ca.Open(ctx, n.Keys, n.Store, ca.Options{Audit: crashingAuditor{}})
	if err != nil {
		t.Fatal(err)
	}
	var serials []string
	for range count {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		_, err := svc.Issue(ctx, ca.Request{Profile: ca.CitizenSigning, PublicKey: k.Public(), Subject: ca.Subject{NationalID: "9861234567", GivenName: "Layla", Surname: "Haddad", GivenNameAr: "ليلى", SurnameAr: "حداد"}})
		if !errors.Is(err, errCrash) {
			t.Fatalf("issue: %v, want the crash", err)
		}
	}
	certs, err := n.Store.Certificates(ctx, ca.CitizenCA, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range certs {
		serials = append(serials, c.Serial)
	}
	if len(serials) < count {
		t.Fatalf("%d certificates stored after the crash, want %d", len(serials), count)
	}
	return serials
}

// issueRecords counts the log's ca.issue records by serial.
func issueRecords(t *testing.T, st audit.Reader) map[string]int {
	t.Helper()
	out := map[string]int{}
	for next := uint64(0); ; {
		es, err := st.AuditEntries(context.Background(), next, 1000)
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
			if r.Action == "ca.issue" {
				out[r.Subject]++
			}
			next = r.Index + 1
		}
	}
}

// TestAuditCatchUpCA: a certificate issued without its audit record (the
// process died in between) gets it when the node is opened again, once.
func TestAuditCatchUpCA(t *testing.T) {
	ctx := context.Background()
	opts := Options{Dir: filepath.Join(t.TempDir(), "node"), Create: true, CA: ca.DefaultConfig()}
	n, _, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	serials := crashIssue(t, n, 2)
	if got := issueRecords(t, n.Store); len(got) != 0 {
		t.Fatalf("issue records before the restart = %v", got)
	}
	n.Close()
	opts.Create = false
	for range 2 {
		n, _, err = Open(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		got := issueRecords(t, n.Store)
		for _, s := range serials {
			if got[s] != 1 {
				t.Errorf("%d issue records of %s, want 1", got[s], s)
			}
		}
		verifyAudit(t, n)
		n.Close()
	}
}

// TestAuditCatchUpCAReplicas: on PostgreSQL, two replicas catching up the
// CA at once append each missing issuance record once between them.
func TestAuditCatchUpCAReplicas(t *testing.T) {
	ctx := context.Background()
	a, b := openReplicas(t)
	serials := crashIssue(t, a, 20)
	var (
		wg    sync.WaitGroup
		added [2]int
		errs  [2]error
		start = make(chan struct{})
	)
	for i, n := range []*Node{a, b} {
		wg.Go(func() {
			<-start
			added[i], errs[i] = n.CA.CatchUpAudit(ctx, 0)
		})
	}
	close(start)
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	got := issueRecords(t, a.Store)
	for _, s := range serials {
		if got[s] != 1 {
			t.Errorf("%d issue records of %s, want 1", got[s], s)
		}
	}
	if added[0]+added[1] < len(serials) || added[0]+added[1] > 2*len(serials) {
		t.Errorf("replicas appended %v records for %d missing", added, len(serials))
	}
	verifyAudit(t, b)
	if p, err := a.Store.(*store.Postgres).PendingCertAudits(ctx, farFuture, 1000); err != nil || len(p) != 0 {
		t.Errorf("changes still pending audit after the catch-up: %d, %v", len(p), err)
	}
}
