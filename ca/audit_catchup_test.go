package ca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/store"
)

// crashingAuditor stands for a process killed between a certificate
// change's commit and its audit append: the change is stored, the append
// never reaches the log.
type crashingAuditor struct{}

var errCrash = errors.New("killed before the audit append")

func (crashingAuditor) Append(context.Context, audit.Event) (audit.Receipt, error) {
	return audit.Receipt{}, errCrash
}

// catchUpStore is a store the CA's catch-up works on.
type catchUpStore interface {
	Store
	audit.Store
	pendingStore
}

// TestCatchUpAudit: issuance, hold and revocation committed without their
// audit records (the process died in between) get them from the catch-up,
// exactly once each, with the actor of the change, and the log verifies;
// changes whose record was appended normally are not copied again, and a
// second catch-up appends nothing. On bbolt and on PostgreSQL.
func TestCatchUpAudit(t *testing.T) {
	stores := map[string]func(t *testing.T) catchUpStore{
		"bolt": func(t *testing.T) catchUpStore {
			st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"postgres": func(t *testing.T) catchUpStore {
			st, err := store.OpenPostgres(context.Background(), pgtest.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) { testCatchUpAudit(t, open(t)) })
	}
}

func testCatchUpAudit(t *testing.T, st catchUpStore) {
	ctx := context.Background()
	kek := make([]byte, hsm.KEKSize)
	rand.Read(kek)
	keys, err := hsm.OpenSoftware(filepath.Join(t.TempDir(), "keys"), kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	logKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	log, err := audit.New(st, logKey, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return testNow }
	svc, err := Init(ctx, DefaultConfig(), keys, st, Options{Audit: log, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	officer := WithActor(ctx, "officer:rania")
	a := (&testEnv{svc: svc}).issue(t, CitizenSigning)
	if _, err := svc.Revoke(officer, a.SerialNumber, ReasonCertificateHold); err != nil {
		t.Fatal(err)
	}

	// The same CA in a process that dies after each commit.
	crashing, err := Open(ctx, keys, st, Options{Audit: crashingAuditor{}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	_, err = crashing.Issue(officer, Request{Profile: CitizenSigning, PublicKey: ecKey(t, elliptic.P256()).Public(), Subject: citizen()})
	if !errors.Is(err, errCrash) {
		t.Fatalf("issue: %v, want the crash", err)
	}
	certs, err := st.Certificates(ctx, CitizenCA, store.Page{})
	if err != nil || len(certs) != 2 {
		t.Fatalf("certificates after the crash = %d, %v", len(certs), err)
	}
	var b *big.Int
	for _, c := range certs {
		if c.Serial != SerialString(a.SerialNumber) {
			b, _ = new(big.Int).SetString(c.Serial, 16)
		}
	}
	if _, err := crashing.Release(officer, a.SerialNumber); !errors.Is(err, errCrash) {
		t.Fatalf("release: %v, want the crash", err)
	}
	if _, err := crashing.Revoke(officer, a.SerialNumber, ReasonKeyCompromise); !errors.Is(err, errCrash) {
		t.Fatalf("revoke: %v, want the crash", err)
	}
	if _, err := crashing.Revoke(ctx, b, ReasonCertificateHold); !errors.Is(err, errCrash) {
		t.Fatalf("hold: %v, want the crash", err)
	}
	if c, err := st.Certificate(ctx, SerialString(a.SerialNumber)); err != nil || c.Status != store.StatusRevoked {
		t.Fatalf("certificate after the crashed revocation: %v, %v", c.Status, err)
	}
	sa, sb := SerialString(a.SerialNumber), SerialString(b)
	before := caRecords(t, st)
	if len(before) != 4 || before["ca.issue "+sa] != 1 || before["ca.hold "+sa] != 1 {
		t.Fatalf("records before the catch-up = %v", before)
	}

	// A catch-up with a grace leaves alone the changes made within it.
	if n, err := svc.CatchUpAudit(ctx, time.Minute); err != nil || n != 0 {
		t.Fatalf("catch-up within the grace appended %d (%v), want 0", n, err)
	}
	if n, err := svc.CatchUpAudit(ctx, 0); err != nil || n != 4 {
		t.Fatalf("catch-up appended %d (%v), want 4", n, err)
	}
	if n, err := svc.CatchUpAudit(ctx, 0); err != nil || n != 0 {
		t.Fatalf("second catch-up appended %d (%v), want 0", n, err)
	}
	got := caRecords(t, st)
	want := map[string]int{
		"ca.issue " + sa: 1, "ca.hold " + sa: 1, "ca.release " + sa: 1, "ca.revoke " + sa: 1,
		"ca.issue " + sb: 1, "ca.hold " + sb: 1,
		"actor officer:rania": 4, "actor ca": 2,
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%q: %d records, want %d", k, got[k], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("records after the catch-up = %v, want %v", got, want)
	}
	if p, err := st.PendingCertAudits(ctx, time.Unix(1<<40, 0), 1000); err != nil || len(p) != 0 {
		t.Errorf("changes still pending audit after the catch-up: %d, %v", len(p), err)
	}
	if _, err := log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(ctx, st, log.Verifier()); err != nil {
		t.Fatalf("audit verify: %v", err)
	}
}

// TestCeremonyAuditCatchUp: a key ceremony committed without its audit
// record (the process died in between) gets it from the catch-up, once,
// and the log verifies. On bbolt and on PostgreSQL.
func TestCeremonyAuditCatchUp(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) (catchUpStore, audit.PendingStore){
		"bolt": func(t *testing.T) (catchUpStore, audit.PendingStore) {
			st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st, st
		},
		"postgres": func(t *testing.T) (catchUpStore, audit.PendingStore) {
			st, err := store.OpenPostgres(context.Background(), pgtest.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st, st
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, pending := open(t)
			kek := make([]byte, hsm.KEKSize)
			rand.Read(kek)
			keys, err := hsm.OpenSoftware(filepath.Join(t.TempDir(), "keys"), kek, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Init(WithActor(ctx, "operator:root"), DefaultConfig(), keys, st, Options{Audit: crashingAuditor{}}); !errors.Is(err, errCrash) {
				t.Fatalf("init: %v, want the crash", err)
			}
			if _, err := Open(ctx, keys, st, Options{}); err != nil {
				t.Fatalf("the ceremony was not stored: %v", err)
			}
			logKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			log, err := audit.New(st, logKey, audit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for want := 1; want >= 0; want-- {
				if n, err := log.CatchUp(ctx, pending, 0); err != nil || n != want {
					t.Fatalf("catch-up appended %d (%v), want %d", n, err, want)
				}
			}
			es, err := st.AuditEntries(ctx, 0, 10)
			if err != nil || len(es) != 1 {
				t.Fatalf("%d records, %v; want the ceremony's", len(es), err)
			}
			r, err := audit.ParseRecord(es[0].Record)
			if err != nil || r.Action != "ca.ceremony" || r.Actor != "operator:root" || r.Subject != Root || r.Source != "ca.ceremony" {
				t.Fatalf("record %+v, %v", r, err)
			}
			if _, err := log.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := audit.Verify(ctx, st, log.Verifier()); err != nil {
				t.Fatalf("audit verify: %v", err)
			}
		})
	}
}

// caRecords counts the log's certificate records by "action serial" and
// by "actor name", and checks that each names a distinct source.
func caRecords(t *testing.T, st audit.Reader) map[string]int {
	t.Helper()
	out := map[string]int{}
	sources := map[string]bool{}
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
			next = r.Index + 1
			if r.Action == "ca.ceremony" {
				continue
			}
			out[r.Action+" "+r.Subject]++
			out["actor "+r.Actor]++
			if !strings.HasPrefix(r.Source, changeSourcePrefix+r.Subject+"/") || sources[r.Source] {
				t.Errorf("record %d: source %q missing, wrong or repeated", r.Index, r.Source)
			}
			sources[r.Source] = true
		}
	}
}

// BenchmarkIssueAudited is BenchmarkIssue with the audit log in the same
// bbolt store: each issuance writes its certificate and its pending-audit
// mark in one transaction, then appends its record (whose batch also
// forgets nothing: the mark stays until a catch-up).
func BenchmarkIssueAudited(b *testing.B) {
	env := newEnv(b, time.Now())
	env.svc.opts.Clock = time.Now
	logKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	log, err := audit.New(env.store, logKey, audit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	env.svc.opts.Audit = log
	ctx := context.Background()
	csrs := make([][]byte, 64)
	for i := range csrs {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		csrs[i], _ = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := env.svc.IssueFromCSR(ctx, CitizenSigning, csrs[i%len(csrs)], citizen()); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}
