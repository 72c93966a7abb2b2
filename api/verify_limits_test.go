package api

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/problem"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/signing"
)

// countingVerifier counts the validations that reach the validator.
type countingVerifier struct {
	v *validate.Validator
	n atomic.Int64
}

func (c *countingVerifier) Validate(ctx context.Context, r io.ReaderAt, size int64) (*validate.Report, error) {
	c.n.Add(1)
	return c.v.Validate(ctx, r, size)
}

// TestVerifyLimitsAndScope: POST /api/v1/verify is public but counted per
// client address; past the limit it answers 429 without reading the body or
// validating. An agency needs the verify scope and is then not counted; one
// without it is refused. Both refusals match openapi.json.
func TestVerifyLimitsAndScope(t *testing.T) {
	e := newSignEnv(t)
	cv := &countingVerifier{v: &validate.Validator{Options: validate.Options{TrustAnchors: []*x509.Certificate{e.root}, Clock: func() time.Time { return *e.now }}}}
	srv := New(Deps{Enrollment: e.svc, Signing: e.signing, Verifier: cv}, Options{Clock: func() time.Time { return *e.now },
		Limiter: e.st, Limits: RateLimits{Window: time.Minute, PerIPVerify: 2}})
	c := newConformance(t)
	pdf := testenv.CorpusPDF(t, "testfile12.pdf")
	asPDF := http.Header{"Content-Type": {"application/pdf"}}
	verifier := e.agency(t, "Land Department", signing.ScopeVerify)
	signOnly := e.agency(t, "Civil Status", signing.ScopeSignRequests)

	// Two validations from the test client's address, then 429.
	for i := range 2 {
		if rec := c.do(t, srv, "POST", "/api/v1/verify", "", pdf, asPDF); rec.Code != 200 {
			t.Fatalf("validation %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	rec := c.do(t, srv, "POST", "/api/v1/verify", "", pdf, asPDF)
	checkLimited(t, rec, time.Minute)
	if n := cv.n.Load(); n != 2 {
		t.Fatalf("%d validations ran, want 2", n)
	}
	// Another address has its own budget: its (JSON) body is read and
	// refused for its type, not for the limit.
	if rec := from(srv, "198.51.100.7", "POST", "/api/v1/verify", nil); rec.Code != http.StatusUnsupportedMediaType {
		t.Fatalf("another address: %d %s", rec.Code, rec.Body)
	}

	// An agency with the verify scope, from the same address, is not
	// counted.
	for i := range 3 {
		if rec := c.do(t, srv, "POST", "/api/v1/verify", verifier.Key, pdf, asPDF); rec.Code != 200 {
			t.Fatalf("agency validation %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	if n := cv.n.Load(); n != 5 {
		t.Fatalf("%d validations ran, want 5", n)
	}

	// An agency without it is refused, and nothing is validated.
	rec = c.do(t, srv, "POST", "/api/v1/verify", signOnly.Key, pdf, asPDF)
	var pd problem.Details
	if rec.Code != 403 || json.Unmarshal(rec.Body.Bytes(), &pd) != nil || pd.Type != problem.TypeBase+"forbidden" {
		t.Fatalf("agency without the verify scope: %d %s", rec.Code, rec.Body)
	}
	if n := cv.n.Load(); n != 5 {
		t.Fatalf("%d validations ran after the refusal, want 5", n)
	}

	// The window's end lets the address through again.
	*e.now = e.now.Add(time.Minute)
	if rec := c.do(t, srv, "POST", "/api/v1/verify", "", pdf, asPDF); rec.Code != 200 {
		t.Fatalf("after the window: %d %s", rec.Code, rec.Body)
	}
}
