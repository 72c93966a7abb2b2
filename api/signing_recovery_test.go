package api

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// rewire replaces the environment's signing service by one over the same
// store with approver and opts, as a restarted process would have. Its
// clock is the environment's unless opts has one.
func (e *signEnv) rewire(t testing.TB, approver signing.Approver, opts signing.Options) {
	t.Helper()
	clock := func() time.Time { return *e.now }
	if opts.Clock == nil {
		opts.Clock = clock
	}
	opts.Audit = e.audit
	opts.MaxDocuments, opts.MaxDocumentSize = 5, 2<<20
	var err error
	if e.signing, err = signing.New(e.st, approver, signing.CATrust(e.ca), opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.signing.Wait)
	verifier := &validate.Validator{Options: validate.Options{TrustAnchors: []*x509.Certificate{e.root}, Clock: clock}}
	e.srv = New(Deps{Enrollment: e.svc, Signing: e.signing, CSC: e.signing, Verifier: verifier}, Options{Clock: clock})
}

// crashingApprover signs, then runs after: the crash point between the
// signatures and the stored signed documents.
type crashingApprover struct {
	countingApprover
	after func()
}

func (c crashingApprover) SignApproved(ctx context.Context, a *enrollment.Approval) ([][]byte, error) {
	sigs, err := c.countingApprover.SignApproved(ctx, a)
	c.after()
	return sigs, err
}

// finishInBackground sends the approval finish of request id from
// another goroutine (the one a crash ends) and returns a channel closed
// when that goroutine is gone, with the reply if there was one.
func (e *signEnv) finishInBackground(t *testing.T, ph *testPhone, tok, id string) <-chan *httptest.ResponseRecorder {
	t.Helper()
	c, opts := e.begin(t, tok, id)
	ph.cred.Counter++
	resp := virtualwebauthn.CreateAssertionResponse(e.rp, ph.auth, ph.cred, *opts)
	body, _ := json.Marshal(map[string]any{"ceremony_id": c.CeremonyID, "credential": json.RawMessage(resp)})
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		defer close(done)
		req := httptest.NewRequest("POST", "/api/v1/sign-requests/"+id+"/approval/finish", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		done <- rec
	}()
	return done
}

func (e *signEnv) request(t testing.TB, id string) store.SignRequest {
	t.Helper()
	var r store.SignRequest
	err := e.st.SigningView(context.Background(), func(tx store.SigningTx) (err error) {
		r, err = tx.SignRequest(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRecoverAfterCrash: the process is killed after the citizen's key
// signed and before the signed documents were stored. The request stays
// in state signing with nothing stored; Recover, once RecoverAfter has
// passed, puts it back to pending; the citizen approves again and the
// request is signed once.
func TestRecoverAfterCrash(t *testing.T) {
	e := newSignEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	ph, tok := e.citizen(t, off, "9861234567")
	ag := e.agency(t, "Ministry", signing.ScopeSignRequests)
	v := e.oneDocument(t, ag.Key, "9861234567")
	counting := countingApprover{e.svc, e.signs}
	e.rewire(t, crashingApprover{counting, runtime.Goexit}, signing.Options{})
	if rec := <-e.finishInBackground(t, ph, tok, v.ID); rec != nil {
		t.Fatalf("the crashed approval answered: %d %s", rec.Code, rec.Body)
	}
	if r := e.request(t, v.ID); r.State != store.SignSigning || r.SigningSince.IsZero() {
		t.Fatalf("after the crash the request is %s (since %v), want signing", r.State, r.SigningSince)
	}
	if n := e.signedCount(t, v.ID, 1); n != 0 || e.signs.Load() != 1 {
		t.Fatalf("after the crash: %d signed records stored, %d signatures made; want 0 and 1", n, e.signs.Load())
	}

	// The restarted process: recovery waits RecoverAfter, then acts.
	e.rewire(t, counting, signing.Options{RecoverAfter: 2 * time.Minute})
	if n, err := e.signing.Recover(context.Background()); err != nil || n != 0 {
		t.Fatalf("Recover right after the crash = %d, %v; want 0 (it may still be signing)", n, err)
	}
	*e.now = e.now.Add(2 * time.Minute)
	if n, err := e.signing.Recover(context.Background()); err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want 1", n, err)
	}
	r := e.request(t, v.ID)
	if r.State != store.SignPending || !strings.Contains(r.Reason, "interrupted") || !r.SigningSince.IsZero() {
		t.Fatalf("recovered request: %s %q", r.State, r.Reason)
	}
	if n, _ := e.signing.Recover(context.Background()); n != 0 {
		t.Fatalf("a second Recover moved %d", n)
	}
	if !e.audited(t, "signing.recover", "sign-request:"+v.ID) {
		t.Fatal("the recovery was not recorded in the audit log")
	}
	// A new session (the first may have expired in a real restart too).
	if rec, s := e.signIn(t, ph); rec.Code == 200 {
		tok = s.Token
	}
	if code, out := e.approve(t, ph, tok, v.ID); code != 200 {
		t.Fatalf("approve again: %d %s", code, out)
	}
	if r := e.request(t, v.ID); r.State != store.SignSigned {
		t.Fatalf("request %s after approving again", r.State)
	}
	if n := e.signedCount(t, v.ID, 1); n != 2 {
		t.Fatalf("%d signed records (update + evidence), want 2: one signed result", n)
	}
}

// TestRecoverSlowSigner: a process that was only slow, not killed, finds
// the request recovered when it tries to store its result; the result is
// dropped and the request is signed once, by the next approval.
func TestRecoverSlowSigner(t *testing.T) {
	e := newSignEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	ph, tok := e.citizen(t, off, "9861234567")
	ag := e.agency(t, "Ministry", signing.ScopeSignRequests)
	v := e.oneDocument(t, ag.Key, "9861234567")
	signed, resume := make(chan struct{}), make(chan struct{})
	counting := countingApprover{e.svc, e.signs}
	e.rewire(t, crashingApprover{counting, func() { close(signed); <-resume }}, signing.Options{RecoverAfter: time.Minute})
	done := e.finishInBackground(t, ph, tok, v.ID)
	<-signed
	// Another replica, a few minutes later.
	*e.now = e.now.Add(3 * time.Minute)
	other, err := signing.New(e.st, counting, signing.CATrust(e.ca), signing.Options{Clock: func() time.Time { return *e.now }, RecoverAfter: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := other.Recover(context.Background()); err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v", n, err)
	}
	close(resume)
	rec := <-done
	if rec == nil || rec.Code != 409 {
		t.Fatalf("the slow approval: %v, want 409", rec)
	}
	if n := e.signedCount(t, v.ID, 1); n != 0 {
		t.Fatalf("the abandoned signing stored %d records", n)
	}
	if r := e.request(t, v.ID); r.State != store.SignPending {
		t.Fatalf("request %s, want pending", r.State)
	}
	e.rewire(t, counting, signing.Options{})
	if rec, s := e.signIn(t, ph); rec.Code == 200 {
		tok = s.Token
	}
	if code, out := e.approve(t, ph, tok, v.ID); code != 200 {
		t.Fatalf("approve again: %d %s", code, out)
	}
	if n := e.signedCount(t, v.ID, 1); n != 2 {
		t.Fatalf("%d signed records, want 2", n)
	}
}

// TestRecoverExpired: a request interrupted past its expiry becomes
// expired, and its agency is told.
func TestRecoverExpired(t *testing.T) {
	e := newSignEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	ph, tok := e.citizen(t, off, "9861234567")
	hook := newHookReceiver(t, 0)
	k, err := e.signing.AddAgency(context.Background(), signing.NewAgency{Name: "Hooked", Scopes: []string{signing.ScopeSignRequests}, WebhookURL: hook.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	v := e.oneDocument(t, k.Key, "9861234567")
	counting := countingApprover{e.svc, e.signs}
	e.rewire(t, crashingApprover{counting, runtime.Goexit}, signing.Options{})
	<-e.finishInBackground(t, ph, tok, v.ID)
	e.rewire(t, counting, signing.Options{})
	*e.now = v.Expires.Add(time.Second)
	if n, err := e.signing.Recover(context.Background()); err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v", n, err)
	}
	e.signing.Wait()
	if r := e.request(t, v.ID); r.State != store.SignExpired {
		t.Fatalf("request %s, want expired", r.State)
	}
	got := hook.next(t)
	if got.hook.State != store.SignExpired || got.hook.RequestID != v.ID {
		t.Fatalf("webhook %+v", got.hook)
	}
}
