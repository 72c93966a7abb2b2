package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/internal/problem"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// TestSignPageTreeRefused checks that a document whose page tree cannot
// be read completely (issue 4, what you see is what you sign; the signer
// refuses it with signer.ErrDocument) is refused when the citizen begins
// the approval: 422 document-refused with the cause in the detail, the
// request failed, nothing signed.
func TestSignPageTreeRefused(t *testing.T) {
	e := newAbuseEnv(t)
	doc := testenv.Corpus(t, "inputs/pyhanko/circular-page-tree.pdf")
	r := e.request(t, signing.NewDocument{Name: "loop.pdf", Content: doc})
	before := e.signs.Load()
	rec := e.call(t, "POST", "/api/v1/sign-requests/"+r.ID+"/approval/begin", e.laylaTok, nil, nil)
	wantProblem(t, rec, 422, "document-refused")
	var p problem.Details
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Detail, "page tree: ") || !strings.Contains(p.Detail, "loop in the page tree") {
		t.Errorf("detail %q does not say the page tree loops", p.Detail)
	}
	var v signing.RequestView
	e.call(t, "GET", "/api/v1/sign-requests/"+r.ID, e.agA.Key, nil, &v)
	if v.State != store.SignFailed {
		t.Errorf("state %s, want failed", v.State)
	}
	if e.signs.Load() != before {
		t.Errorf("the citizen's key signed %d digests", e.signs.Load()-before)
	}
	if n := e.signedCount(t, r.ID, 1); n != 0 {
		t.Errorf("%d signed documents or evidence records stored", n)
	}
}
