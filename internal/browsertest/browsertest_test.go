package browsertest

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// page registers a passkey and signs in with it, under a strict CSP with the
// script in its own file, as Thiqa's pages do.
const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>self-test</title>
<script src="/app.js" defer></script></head>
<body><h1>self-test</h1><button id="go">go</button><p id="out"></p></body></html>`

const script = `document.getElementById('go').addEventListener('click', async () => {
  const out = document.getElementById('out');
  try {
    const rnd = n => crypto.getRandomValues(new Uint8Array(n));
    const cred = await navigator.credentials.create({publicKey: {
      rp: {id: 'localhost', name: 'self-test'},
      user: {id: rnd(16), name: 'citizen', displayName: 'Citizen'},
      challenge: rnd(32),
      pubKeyCredParams: [{type: 'public-key', alg: -7}, {type: 'public-key', alg: -257}],
      authenticatorSelection: {residentKey: 'required', userVerification: 'required'},
    }});
    const got = await navigator.credentials.get({publicKey: {
      rpId: 'localhost', challenge: rnd(32), userVerification: 'required',
      allowCredentials: [{type: 'public-key', id: cred.rawId}],
    }});
    const flags = new Uint8Array(got.response.authenticatorData)[32];
    out.textContent = 'ok uv=' + ((flags & 4) !== 0);
  } catch (e) {
    out.textContent = 'error ' + e.name;
  }
});`

func server(t *testing.T) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; object-src 'none'")
		switch r.URL.Path {
		case "/app.js":
			w.Header().Set("Content-Type", "text/javascript")
			w.Write([]byte(script))
		case "/inline":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(`<!doctype html><title>x</title><script>document.title='ran'</script>`))
		default:
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(page))
		}
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	// WebAuthn accepts localhost as a secure origin and relying party ID,
	// and not an IP address.
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
}

func TestPasskeyRoundTripAndScreenshot(t *testing.T) {
	url := server(t)
	ctx := Start(t)
	auth, err := VirtualAuthenticator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("THIQA_ARTIFACTS", t.TempDir())
	Do(t, ctx, Phone(), chromedp.Navigate(url+"/"), chromedp.Click(chromedp.ID("go")))
	if _, err := Run(t, ctx, chromedp.Poll[bool](`document.getElementById('out').textContent !== ''`)); err != nil {
		t.Fatal(err)
	}
	out, err := Run(t, ctx, chromedp.Text(chromedp.ID("out")))
	if err != nil {
		t.Fatal(err)
	}
	if out != "ok uv=true" {
		t.Fatalf("page says %q, want a registration and a user-verified assertion", out)
	}
	creds, err := Credentials(ctx, auth)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 1 || creds[0].RpID != "localhost" || creds[0].SignCount < 1 {
		t.Fatalf("virtual authenticator holds %+v, want one used credential for localhost", creds)
	}

	file := Screenshot(ctx, t, "self test")
	png, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || !strings.HasSuffix(file, "TestPasskeyRoundTripAndScreenshot-self_test.png") {
		t.Fatalf("screenshot %s is not a PNG named after the test (%d bytes)", file, len(png))
	}
}

func TestUserVerificationFails(t *testing.T) {
	url := server(t)
	ctx := Start(t)
	auth, err := VirtualAuthenticator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := SetUserVerified(ctx, auth, false); err != nil {
		t.Fatal(err)
	}
	Do(t, ctx, chromedp.Navigate(url+"/"), chromedp.Click(chromedp.ID("go")))
	if _, err := Run(t, ctx, chromedp.Poll[bool](`document.getElementById('out').textContent !== ''`)); err != nil {
		t.Fatal(err)
	}
	out, err := Run(t, ctx, chromedp.Text(chromedp.ID("out")))
	if err != nil {
		t.Fatal(err)
	}
	if out != "error NotAllowedError" {
		t.Fatalf("page says %q, want NotAllowedError when user verification fails", out)
	}
}

// The policy that Thiqa's pages send blocks inline script: the browser
// enforces it and the console reports the violation, which Start turns into
// a test failure unless the test allows it.
func TestInlineScriptIsBlocked(t *testing.T) {
	url := server(t)
	reported := make(chan string, 4)
	ctx := Start(t, AllowCSPViolations(), OnConsole(func(m chromedp.ConsoleMessage) {
		if strings.Contains(m.Text, "Content Security Policy") {
			reported <- m.Text
		}
	}))
	Do(t, ctx, chromedp.Navigate(url+"/inline"))
	title, err := Run(t, ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title != "x" {
		t.Fatalf("title %q: the inline script ran despite the policy", title)
	}
	select {
	case m := <-reported:
		t.Logf("reported: %s", m)
	case <-time.After(10 * time.Second):
		t.Fatal("the browser reported no Content-Security-Policy violation for the inline script")
	}
}
