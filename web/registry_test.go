package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/signing"
)

// TestRegistryLookup: an agency has a citizen sign a PDF; the SHA-256 of
// the signed file, looked up on the verification page, names the signer
// and the time; any other hash is not found; a malformed one is a 400.
func TestRegistryLookup(t *testing.T) {
	e := newEnv(t)
	pdf := registeredPDF(t, e)
	sum := sha256.Sum256(pdf)
	for lang, want := range map[string][]string{"ar": {"عمر ناصر", "عقد إيجار", "Land Department"}, "en": {"Omar Nasser", "Lease", "lease.pdf"}} {
		b := e.browser()
		b.lang = lang
		rec := b.get(t, "/verify/?sha256="+strings.ToUpper(hex.EncodeToString(sum[:])))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `id="registry-found"`) {
			t.Fatalf("%s: %d %s", lang, rec.Code, rec.Body)
		}
		for _, w := range want {
			if !strings.Contains(rec.Body.String(), w) {
				t.Errorf("%s: page lacks %q", lang, w)
			}
		}
	}
	// The stamp's QR code finds the same entry by the signature's
	// identifier.
	d, err := e.sign.SignedByHash(context.Background(), sum[:])
	if err != nil || d.SignatureID == "" {
		t.Fatalf("registry entry %+v %v", d, err)
	}
	if rec := e.browser().get(t, "/verify/?sig="+d.SignatureID); rec.Code != 200 || !strings.Contains(rec.Body.String(), `id="registry-found"`) || !strings.Contains(rec.Body.String(), "عمر ناصر") {
		t.Fatalf("stamp lookup: %d %s", rec.Code, rec.Body)
	}
	if rec := e.browser().get(t, "/verify/?sig=AAAAAAAAAAAAAAAAAAAAAA"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `id="registry-none"`) {
		t.Fatalf("unknown stamp: %d %s", rec.Code, rec.Body)
	}
	other := sha256.Sum256(append(pdf, '\n'))
	if rec := e.browser().get(t, "/verify/?sha256="+hex.EncodeToString(other[:])); rec.Code != 200 || !strings.Contains(rec.Body.String(), `id="registry-none"`) {
		t.Fatalf("other hash: %d %s", rec.Code, rec.Body)
	}
	for _, bad := range []string{"abc", strings.Repeat("zz", 32), strings.Repeat("ab", 33)} {
		if rec := e.browser().get(t, "/verify/?sha256="+bad); rec.Code != http.StatusBadRequest {
			t.Errorf("%q: %d", bad, rec.Code)
		}
	}
}

// registeredPDF has an agency ask citizen 2345678901 (Omar Nasser) to
// sign a PDF, approves it with the citizen's passkey and returns the
// signed PDF, which is then in the signature registry.
func registeredPDF(t testing.TB, e *env) []byte {
	t.Helper()
	ctx := context.Background()
	ph := activatePhone(t, e, "2345678901")
	ch, err := e.svc.BeginSignIn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, citizen, err := e.svc.FinishSignIn(ctx, ch.CeremonyID, ph.Assert(t, ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	k, err := e.sign.AddAgency(ctx, signing.NewAgency{Name: "Land Department", Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		t.Fatal(err)
	}
	req, _, err := e.sign.Create(ctx, signing.Principal{Agency: &k.Agency}, signing.NewRequest{NationalID: "2345678901",
		PurposeAr: "عقد إيجار", PurposeEn: "Lease", Documents: []signing.NewDocument{{Name: "lease.pdf", Content: testenv.OnePagePDF("Thiqa test document: pay 100 JOD", 0), Level: "B-T", Visible: true}}})
	if err != nil {
		t.Fatal(err)
	}
	by := signing.Principal{Citizen: &citizen}
	c, err := e.sign.BeginApproval(ctx, by, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sign.Approve(ctx, by, req.ID, c.CeremonyID, ph.Assert(t, c.Options)); err != nil {
		t.Fatal(err)
	}
	pdf, _, err := e.sign.Document(ctx, by, req.ID, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	return pdf
}
