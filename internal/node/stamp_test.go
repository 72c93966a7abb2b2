package node_test

import (
	"context"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/internal/testtool"
	"github.com/thiqa/thiqa/signing"
)

// TestStampQROpensVerification follows issue 10's "a verification QR
// printed on a stamp opens this page for that signature" through a whole
// node: a citizen approves a document with a visible stamp; the signed
// page, rendered by poppler, carries a QR code whose URL is this node's
// /verify/ page, and that page, served by the node, shows Thiqa's record of
// that signature and the citizen's name.
func TestStampQROpensVerification(t *testing.T) {
	pdftoppm := testtool.Require(t, "pdftoppm")
	ctx := context.Background()
	n, _, err := node.Open(ctx, node.Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ph := testenv.Citizens(t, n.Enrollment, "98655500", 1)[0]
	key, err := n.Signing.AddAgency(ctx, signing.NewAgency{Name: "Land Department", Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		t.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	pdf, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus", "inputs", "pdfsign", "testfile20.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	req, _, err := n.Signing.Create(ctx, signing.Principal{Agency: &key.Agency}, signing.NewRequest{NationalID: ph.NationalID,
		PurposeAr: "عقد إيجار", PurposeEn: "Lease", Documents: []signing.NewDocument{{Name: "lease.pdf", Content: pdf, Visible: true}}})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := n.Enrollment.BeginSignIn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, citizen, err := n.Enrollment.FinishSignIn(ctx, ch.CeremonyID, ph.Assert(t, ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	by := signing.Principal{Citizen: &citizen}
	c, err := n.Signing.BeginApproval(ctx, by, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Signing.Approve(ctx, by, req.ID, c.CeremonyID, ph.Assert(t, c.Options)); err != nil {
		t.Fatal(err)
	}
	signed, _, err := n.Signing.Document(ctx, by, req.ID, 0, true)
	if err != nil {
		t.Fatal(err)
	}

	// Render the stamped page and read its QR code.
	text := readStampQR(t, pdftoppm, signed)
	u, err := url.Parse(text)
	if err != nil || u.Scheme+"://"+u.Host != "http://localhost:8080" || u.Path != "/verify/" || u.Query().Get("sig") == "" {
		t.Fatalf("the stamp's QR code says %q, want this node's /verify/?sig=<id>", text)
	}

	// Open that URL on the node.
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	for lang, name := range map[string]string{"ar": "ليلى حداد", "en": "Layla Haddad"} {
		resp, err := http.Get(srv.URL + u.RequestURI() + "&lang=" + lang)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(body)
		if resp.StatusCode != 200 || !strings.Contains(page, `id="registry-found"`) || !strings.Contains(page, u.Query().Get("sig")) || !strings.Contains(page, name) {
			t.Fatalf("%s: GET %s: %d\n%s", lang, u.RequestURI(), resp.StatusCode, page)
		}
	}
	// A QR code naming no signature of this node finds nothing.
	resp, err := http.Get(srv.URL + "/verify/?sig=AAAAAAAAAAAAAAAAAAAAAA")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `id="registry-none"`) {
		t.Fatalf("an unknown signature: %s", body)
	}
}

// readStampQR renders page 1 of a signed PDF with pdftoppm and returns the
// text of the QR code on it. It renders without anti-aliasing: the stamp
// draws each run of dark modules as its own rectangle, and anti-aliased
// seams between rows made gozxing's detector miss about one code in ten
// (the code itself was fine: zbarimg read those renderings). It tries
// several resolutions before giving up.
func readStampQR(t *testing.T, pdftoppm string, signed []byte) string {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "signed.pdf")
	if err := os.WriteFile(in, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	hints := map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true}
	var last error
	for _, dpi := range []string{"200", "300", "400"} {
		out := filepath.Join(dir, "page-"+dpi)
		if b, err := exec.Command(pdftoppm, "-png", "-r", dpi, "-aa", "no", "-aaVector", "no", "-singlefile", "-f", "1", "-l", "1", in, out).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v\n%s", err, b)
		}
		f, err := os.Open(out + ".png")
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
		if err == nil {
			return res.GetText()
		}
		last = err
	}
	t.Fatalf("no QR code on the stamped page at 200, 300 or 400 dpi: %v", last)
	return ""
}
