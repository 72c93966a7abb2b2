package node

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thiqa/thiqa/api"
	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/problem"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// TestConfiguredLimits: the activation code's lifetime and the sign
// requests' document limits given to Open (thiqa serve's
// --activation-code-ttl, --max-documents, --max-document-size) reach the
// services.
func TestConfiguredLimits(t *testing.T) {
	ctx := context.Background()
	_, file, _, _ := runtime.Caller(0)
	corpus := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus", "inputs", "pdfsign")
	small, err := os.ReadFile(filepath.Join(corpus, "testfile20.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	big, err := os.ReadFile(filepath.Join(corpus, "testfile17.pdf"))
	if err != nil || len(big) <= len(small) {
		t.Fatalf("testfile17.pdf (%d bytes) should be larger than testfile20.pdf (%d): %v", len(big), len(small), err)
	}
	var ahead atomic.Int64 // how far the node's clock runs ahead of the wall clock
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	n, _, err := Open(ctx, Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig(), Clock: clock,
		ActivationCodeTTL: 2 * time.Minute, MaxDocuments: 1, MaxDocumentSize: int64(len(small))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()

	// Sign requests: one document of at most len(small) bytes.
	ph := testenv.Citizens(t, n.Enrollment, "98612345", 1)[0]
	key, err := n.Signing.AddAgency(ctx, signing.NewAgency{Name: "Land Department", Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		t.Fatal(err)
	}
	ag, err := n.Signing.AuthenticateAgency(ctx, key.Key)
	if err != nil {
		t.Fatal(err)
	}
	by := signing.Principal{Agency: &ag}
	if _, _, err := n.Signing.Create(ctx, by, signRequestOf(ph.NationalID, small, small)); !errors.Is(err, signing.ErrTooMany) {
		t.Errorf("two documents: %v, want ErrTooMany", err)
	}
	if _, _, err := n.Signing.Create(ctx, by, signRequestOf(ph.NationalID, big)); !errors.Is(err, signing.ErrTooMany) {
		t.Errorf("a document of %d bytes: %v, want ErrTooMany", len(big), err)
	}
	if _, _, err := n.Signing.Create(ctx, by, signRequestOf(ph.NationalID, small)); err != nil {
		t.Errorf("one document of %d bytes: %v", len(small), err)
	}

	// Activation codes: valid 2 minutes, not 15.
	officer := testenv.Officer(t, n.Enrollment, "rana", store.RoleOfficer, "AMM-01", "correct horse battery staple", time.Now())
	enr, err := n.Enrollment.Enrol(ctx, officer, testenv.Proofing("9867654321"))
	if err != nil {
		t.Fatal(err)
	}
	if d := enr.Code.Expires.Sub(clock()); d > 2*time.Minute || d < 2*time.Minute-10*time.Second {
		t.Errorf("the code expires in %v, want 2m", d)
	}
	ahead.Store(int64(2*time.Minute + time.Second))
	if _, err := n.Enrollment.BeginActivation(ctx, "9867654321", enr.Code.Code); !errors.Is(err, enrollment.ErrBadCode) {
		t.Errorf("activation with a code past 2 minutes: %v, want ErrBadCode", err)
	}
}

// signRequestOf asks nid to sign docs.
func signRequestOf(nid string, docs ...[]byte) signing.NewRequest {
	n := signing.NewRequest{NationalID: nid, PurposeAr: "غرض", PurposeEn: "Purpose"}
	for i, d := range docs {
		n.Documents = append(n.Documents, signing.NewDocument{Name: "doc" + string(rune('a'+i)) + ".pdf", Content: d})
	}
	return n
}

// TestVerifyPageSharesLimit: uploads to the /verify/ page and calls of
// POST /api/v1/verify from one address count against one budget, so the
// page is no way around the API's limit; GET of the page is not counted.
func TestVerifyPageSharesLimit(t *testing.T) {
	n, _, err := Open(context.Background(), Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig(),
		RateLimits: &api.RateLimits{PerIPVerify: 2, Window: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	h := n.Handler()
	post := func(path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", path, strings.NewReader("%PDF-1.7\nnot really\n%%EOF\n"))
		req.Header.Set("Content-Type", "application/pdf")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := post("/api/v1/verify"); rec.Code != 200 {
		t.Fatalf("API: %d %s", rec.Code, rec.Body)
	}
	if rec := post("/verify/"); rec.Code == 429 {
		t.Fatalf("page within the budget: %d %s", rec.Code, rec.Body)
	}
	for _, path := range []string{"/verify/", "/api/v1/verify"} {
		rec := post(path)
		var pd problem.Details
		if rec.Code != 429 || json.Unmarshal(rec.Body.Bytes(), &pd) != nil || pd.Type != problem.TypeBase+"rate-limited" || rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s past the budget: %d %s", path, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/verify/", nil))
	if rec.Code != 200 {
		t.Errorf("GET /verify/: %d", rec.Code)
	}
}
