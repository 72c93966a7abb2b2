package requests_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/platform/catalogue"
	"github.com/thiqa/thiqa/platform/requests"
	"github.com/thiqa/thiqa/platform/seal"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/signing"
)

// crashingAuditor stands for a process killed between a transition's
// commit and its audit append.
type crashingAuditor struct{}

var errCrash = errors.New("killed before the audit append")

func (crashingAuditor) Append(context.Context, audit.Event) (audit.Receipt, error) {
	return audit.Receipt{}, errCrash
}

// TestCatchUpAudit: a request opened and cancelled without their audit
// records (the process died after each commit) gets them from the node's
// catch-up, exactly once, and the log verifies; a request audited
// normally is not copied again. On bbolt and on PostgreSQL.
func TestCatchUpAudit(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"bolt":     func(*testing.T) string { return "" },
		"postgres": func(t *testing.T) string { return pgtest.DSN(t) },
	} {
		t.Run(name, func(t *testing.T) { testCatchUpAudit(t, dsn(t)) })
	}
}

func testCatchUpAudit(t *testing.T, dsn string) {
	ctx := context.Background()
	p := newPlatform(t, dsn, false)
	n := p.n
	if _, err := n.Signing.AddAgency(ctx, signing.NewAgency{Name: "SSC", Scopes: []string{signing.ScopeSignRequests}}); err != nil {
		t.Fatal(err)
	}
	st := n.Store.(interface {
		catalogue.Store
		seal.CertStore
		requests.Store
	})
	root, err := n.CA.AuthorityCertificate(ca.Root)
	if err != nil {
		t.Fatal(err)
	}
	crashing, err := requests.New(requests.Deps{Store: st, Catalogue: requests.FromCatalogue(catalogue.New(st, catalogue.Options{}), st),
		Signing: n.Signing, Identities: n.Enrollment, Validator: &validate.Validator{Options: validate.Options{TrustAnchors: []*x509.Certificate{root}}},
		Sealer: &requests.AgencySeals{Keys: n.Keys, Authority: n.CA, Certs: st, Store: st}, Audit: crashingAuditor{}}, requests.Options{})
	if err != nil {
		t.Fatal(err)
	}
	citizen, err := n.Enrollment.Authenticate(ctx, p.token)
	if err != nil {
		t.Fatal(err)
	}
	by := requests.Principal{Citizen: &citizen}
	if _, err := crashing.Open(ctx, by, "SSC-002"); !errors.Is(err, errCrash) {
		t.Fatalf("open: %v, want the crash", err)
	}
	list, err := n.Requests.List(ctx, by)
	if err != nil || len(list) != 1 {
		t.Fatalf("requests after the crash: %d, %v", len(list), err)
	}
	a := list[0].ID
	if _, err := crashing.Cancel(ctx, by, a); !errors.Is(err, errCrash) {
		t.Fatalf("cancel: %v, want the crash", err)
	}
	b, err := n.Requests.Open(ctx, by, "SSC-002")
	if err != nil {
		t.Fatal(err)
	}
	if got := requestRecords(t, n.Store); len(got) != 1 || got["service-request.opened "+b.ID] != 1 {
		t.Fatalf("records before the catch-up: %v", got)
	}
	if err := n.CatchUpAudit(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := n.CatchUpAudit(ctx, 0); err != nil {
		t.Fatal(err)
	}
	got := requestRecords(t, n.Store)
	want := map[string]int{"service-request.opened " + a: 1, "service-request.cancelled " + a: 1, "service-request.opened " + b.ID: 1}
	if len(got) != len(want) {
		t.Errorf("records after the catch-up: %v, want %v", got, want)
	}
	for k, c := range want {
		if got[k] != c {
			t.Errorf("%s: %d records, want %d", k, got[k], c)
		}
	}
	if ps, err := n.Store.(audit.PendingStore).PendingAudits(ctx, time.Unix(1<<40, 0), 1000); err != nil || len(ps) != 0 {
		t.Errorf("records still pending after the catch-up: %d, %v", len(ps), err)
	}
	if _, err := n.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(ctx, n.Store, n.Audit.Verifier()); err != nil {
		t.Fatalf("audit verify: %v", err)
	}
}

// requestRecords counts the log's service-request records by "action
// request", checking that each names a distinct transition.
func requestRecords(t *testing.T, st audit.Reader) map[string]int {
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
			if !strings.HasPrefix(r.Action, "service-request.") {
				continue
			}
			out[r.Action+" "+strings.TrimPrefix(r.Subject, "service-request:")]++
			if !strings.HasPrefix(r.Source, "requests.transition:") || sources[r.Source] {
				t.Errorf("record %d: source %q missing or repeated", r.Index, r.Source)
			}
			sources[r.Source] = true
		}
	}
}
