// Package browsertest drives Debian's chromium through the Chrome DevTools
// Protocol (github.com/chromedp/chromedp) for the tests of Thiqa's pages: it
// starts a headless browser with a fresh profile, gives each test a tab,
// attaches the WebAuthn virtual authenticator that stands in for a phone's
// passkey, saves screenshots as artifacts of the test run and bounds every
// step with a timeout, so that a hung browser fails the test instead of
// hanging it.
//
// It is imported only by tests (files ending in _test.go); it must not be
// imported by the server or the CLI, and it imports nothing of Thiqa but
// [github.com/thiqa/thiqa/internal/testtool].
//
// When chromium is missing the test fails under CI=true and is skipped
// otherwise, as [testtool.Require] does for the other external programs.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/thiqa/thiqa/internal/testtool"
)

// Timeouts. A browser that does not start, or a step that does not finish,
// within them fails the test.
const (
	// StartTimeout bounds the start of chromium and its first blank tab.
	StartTimeout = 60 * time.Second
	// StepTimeout bounds each call of [Do] and [Run].
	StepTimeout = 30 * time.Second
	// TestTimeout bounds the whole life of the browser of one test, unless
	// the test binary's own deadline (go test -timeout) comes sooner.
	TestTimeout = 5 * time.Minute
)

// Flags are the command-line flags chromium runs with, besides a fresh
// --user-data-dir. They keep the browser from calling home and let it run
// as root in a container.
var Flags = []string{
	"headless", "no-sandbox", "disable-gpu", "disable-quic",
	"disable-background-networking", "disable-component-update",
	"disable-sync", "no-first-run", "no-default-browser-check",
	"disable-dev-shm-usage", "disable-extensions",
	"disable-features=Translate,MediaRouter,OptimizationHints",
	"password-store=basic",
}

// Path returns the path of the chromium program: exec.LookPath("chromium"),
// else /usr/bin/chromium. When neither exists the test fails under CI=true
// and is skipped otherwise.
func Path(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return testtool.Require(t, "chromium")
}

// Start launches chromium headless with a fresh profile in t.TempDir() and
// returns the context of its first tab, for chromedp's actions and for the
// helpers of this package. The browser stops when the test ends (or after
// [TestTimeout]). Console messages and uncaught exceptions of the page are
// written to the test log; a Content-Security-Policy violation fails the
// test, since Thiqa's pages must run under their strict policy.
func Start(t testing.TB, opts ...Option) context.Context {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	exe := Path(t)

	deadline := time.Now().Add(TestTimeout)
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if td, ok := d.Deadline(); ok && td.Add(-10*time.Second).Before(deadline) {
			deadline = td.Add(-10 * time.Second)
		}
	}
	life, cancelLife := context.WithDeadline(context.Background(), deadline)

	alloc := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	for _, f := range Flags {
		name, value, hasValue := strings.Cut(f, "=")
		if hasValue {
			alloc = append(alloc, chromedp.Flag(name, value))
		} else {
			alloc = append(alloc, chromedp.Flag(name, true))
		}
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(life, alloc...)
	rec := &recorder{t: t, cfg: cfg}
	ctx, cancelTab := chromedp.NewContext(allocCtx,
		chromedp.WithLogf(rec.logf), chromedp.WithErrorf(rec.logf))
	t.Cleanup(func() {
		rec.stop()
		cancelTab()
		cancelAlloc()
		cancelLife()
	})

	// The first Run starts the browser; it lives as long as ctx, so the
	// start is bounded by a timer rather than by a deadline on ctx.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx, chromedp.Navigate("about:blank")) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start chromium %s: %v", exe, err)
		}
	case <-time.After(StartTimeout):
		cancelLife()
		t.Fatalf("start chromium %s: no blank tab within %v", exe, StartTimeout)
	}
	rec.watch(ctx)
	return ctx
}

// Option changes what [Start] does.
type Option func(*config)

type config struct {
	allowCSP bool
	console  func(chromedp.ConsoleMessage)
}

// AllowCSPViolations keeps a Content-Security-Policy violation from failing
// the test, for a test that checks that the policy blocks something.
func AllowCSPViolations() Option { return func(c *config) { c.allowCSP = true } }

// OnConsole calls f with each console message and exception of the page,
// from another goroutine, until the test ends.
func OnConsole(f func(chromedp.ConsoleMessage)) Option {
	return func(c *config) { c.console = f }
}

// recorder copies the page's console to the test log until the test ends.
type recorder struct {
	t    testing.TB
	cfg  config
	mu   sync.Mutex
	done bool
}

func (r *recorder) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.done {
		r.t.Logf("chromedp: "+format, args...)
	}
}

func (r *recorder) stop() {
	r.mu.Lock()
	r.done = true
	r.mu.Unlock()
}

func (r *recorder) watch(ctx context.Context) {
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			r.mu.Lock()
			if r.done {
				r.mu.Unlock()
				return
			}
			r.t.Logf("browser %s %s:%d", m, m.URL, m.Line)
			if r.cfg.console != nil {
				r.cfg.console(m)
			}
			if !r.cfg.allowCSP && strings.Contains(m.Text, "Content Security Policy") {
				r.t.Errorf("browser reports a Content-Security-Policy violation: %s", m.Text)
			}
			r.mu.Unlock()
		}
	}()
}

// Do runs the actions in the tab within [StepTimeout] and fails the test
// with the step's error.
func Do(t testing.TB, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if _, err := Run(t, ctx, chromedp.Steps(actions...)); err != nil {
		t.Fatal(err)
	}
}

// Run runs one action within [StepTimeout] and returns its value and error.
func Run[T any](t testing.TB, ctx context.Context, a chromedp.Action[T]) (T, error) {
	t.Helper()
	step, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	v, err := chromedp.Run(step, a)
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("browser step did not finish within %v: %w", StepTimeout, err)
	}
	return v, err
}

// Phone makes the tab a phone-sized touch screen (390×844 CSS pixels), the
// size that the citizen app is laid out for.
func Phone() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(1))
}

// VirtualAuthenticator enables the CDP WebAuthn domain in the tab and adds a
// platform authenticator (CTAP2.1, internal transport) with resident keys and
// user verification that succeeds, as a phone with a screen lock would be.
// Presence is simulated, so navigator.credentials.create and .get answer
// without a prompt.
func VirtualAuthenticator(ctx context.Context) (webauthn.AuthenticatorID, error) {
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		return "", fmt.Errorf("enable webauthn: %w", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		return "", fmt.Errorf("add virtual authenticator: %w", err)
	}
	return res.AuthenticatorID, nil
}

// Credentials returns the credentials that the virtual authenticator holds.
func Credentials(ctx context.Context, id webauthn.AuthenticatorID) ([]*webauthn.Credential, error) {
	res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		return nil, fmt.Errorf("get credentials: %w", err)
	}
	return res.Credentials, nil
}

// SetUserVerified makes the authenticator's user verification succeed or
// fail from now on (a wrong fingerprint or PIN).
func SetUserVerified(ctx context.Context, id webauthn.AuthenticatorID, ok bool) error {
	_, err := chromedp.Call(ctx, webauthn.SetUserVerified, webauthn.SetUserVerifiedParams{AuthenticatorID: id, IsUserVerified: ok})
	return err
}

// Downloads makes the browser save downloads into a new directory under
// t.TempDir() without asking, and returns that directory.
func Downloads(t testing.TB, ctx context.Context) string {
	t.Helper()
	dir := t.TempDir()
	_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:     browser.SetDownloadBehaviorBehaviorAllow,
		DownloadPath: dir,
	})
	if err != nil {
		t.Fatalf("set download behaviour: %v", err)
	}
	return dir
}

// ArtifactsDir returns where screenshots go: $THIQA_ARTIFACTS when set,
// else artifacts/screenshots at the root of the repository (git-ignored).
func ArtifactsDir() (string, error) {
	if d := os.Getenv("THIQA_ARTIFACTS"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "artifacts", "screenshots"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Screenshot saves a full-page PNG of the tab as
// <ArtifactsDir>/<test name>-<name>.png and returns its path. Screenshots
// are for reviewers to look at; tests never compare them pixel by pixel.
func Screenshot(ctx context.Context, t testing.TB, name string) string {
	t.Helper()
	png, err := Run(t, ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir, err := ArtifactsDir()
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	file := filepath.Join(dir, unsafeName.ReplaceAllString(t.Name()+"-"+name, "_")+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	return file
}

// Tamper makes the authenticator's next responses carry a zeroed signature
// (bogusSignature) or clear the user-verified or user-present flags, so that
// a test sees how the server refuses them; all false restores honest
// responses.
func Tamper(ctx context.Context, id webauthn.AuthenticatorID, bogusSignature, badUV, badUP bool) error {
	_, err := chromedp.Call(ctx, webauthn.SetResponseOverrideBits, webauthn.SetResponseOverrideBitsParams{
		AuthenticatorID: id, IsBogusSignature: &bogusSignature, IsBadUV: &badUV, IsBadUP: &badUP})
	return err
}

// RemoveAuthenticator takes the virtual authenticator away, with its
// passkeys, as a phone that is lost or replaced.
func RemoveAuthenticator(ctx context.Context, id webauthn.AuthenticatorID) error {
	_, err := chromedp.Call(ctx, webauthn.RemoveVirtualAuthenticator, webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: id})
	return err
}
