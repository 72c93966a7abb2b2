package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/internal/testtool"
)

// thiqaBin is the thiqa binary built once for these tests.
var thiqaBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "thiqa-bin-")
	if err != nil {
		panic(err)
	}
	thiqaBin = filepath.Join(dir, "thiqa")
	if out, err := exec.Command("go", "build", "-o", thiqaBin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs thiqa with args and returns its output and exit code.
func run(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(thiqaBin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serve starts thiqa serve, with more flags if given, and waits until it
// serves.
func serve(t *testing.T, data, addr string, flags ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(thiqaBin, append([]string{"serve", "--data", data, "--addr", addr}, flags...)...)
	var out bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	var printed strings.Builder
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited:\n%s\n%s", printed.String(), out.String())
			}
			printed.WriteString(l + "\n")
			if strings.HasPrefix(l, "serving on ") {
				go func() {
					for range lines {
					}
				}()
				return cmd, printed.String()
			}
		case <-deadline:
			t.Fatalf("serve did not start:\n%s\n%s", printed.String(), out.String())
		}
	}
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return b
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"serve", "--help"}, {"init", "--help"}, {"ca", "--help"},
		{"ca", "revoke", "--help"}, {"ca", "issue", "--help"}, {"ca", "crl", "--help"},
		{"ca", "list", "--help"}, {"ca", "show", "--help"}, {"ca", "release", "--help"},
		{"sign", "--help"}, {"verify", "--help"}, {"audit", "--help"}, {"admin", "--help"},
		{"backup", "--help"}, {"restore", "--help"}, {"hsm", "--help"},
	} {
		out, code := run(t, nil, args...)
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Example") {
			t.Errorf("thiqa %s: exit %d, no usage or examples:\n%s", strings.Join(args, " "), code, out)
		}
	}
	out, code := run(t, nil, "completion", "bash")
	if code != 0 || !strings.Contains(out, "__start_thiqa") {
		t.Errorf("bash completion: exit %d", code)
	}
	out, _ = run(t, nil, "__complete", "ca", "revoke", "x", "--reason", "")
	if !strings.Contains(out, "keyCompromise") {
		t.Errorf("reason completion:\n%s", out)
	}
}

func TestServeRevokeOCSP(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	srv, printed := serve(t, data, addr)
	for _, want := range []string{"created data directory", "created key-encryption key", "key ceremony done", "root ", "serving on http://" + addr} {
		if !strings.Contains(printed, want) {
			t.Errorf("first start did not print %q:\n%s", want, printed)
		}
	}
	if st, err := os.Stat(filepath.Join(data, "kek")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("KEK file: %v %v", st, err)
	}
	base := "http://" + addr
	if string(get(t, base+"/healthz")) != "ok\n" {
		t.Error("healthz")
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	root := write("root.pem", get(t, base+"/ca/root.pem"))
	issuer := write("ci.pem", get(t, base+"/ca/citizen-ca.pem"))

	// Issue through the CLI while the server holds the store.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	csrFile := write("c.csr", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))
	subj := write("s.json", []byte(`{"national_id":"٩٨٦١٢٣٤٥٦٧","given_name":"Omar","surname":"Khalil","given_name_ar":"عمر","surname_ar":"خليل"}`))
	certFile := filepath.Join(dir, "c.pem")
	out, code := run(t, nil, "--data", data, "ca", "issue", "--profile", "citizen-signing", "--csr", csrFile, "--subject-json", subj, "--out", certFile)
	if code != 0 {
		t.Fatalf("ca issue: %d\n%s", code, out)
	}
	block, _ := pem.Decode(must(os.ReadFile(certFile)))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	serial := cert.SerialNumber.Text(16)

	ocsp := func() string {
		t.Helper()
		out, err := exec.Command(openssl, "ocsp", "-issuer", issuer, "-cert", certFile, "-url", base+"/ocsp", "-CAfile", root).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl ocsp: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := ocsp(); !strings.Contains(out, certFile+": good") || !strings.Contains(out, "Response verify OK") {
		t.Fatalf("before revocation:\n%s", out)
	}
	if out, code := run(t, nil, "--data", data, "ca", "revoke", serial, "--reason", "keyCompromise"); code != 0 || !strings.Contains(out, "revoked (keyCompromise)") {
		t.Fatalf("ca revoke: %d\n%s", code, out)
	}
	if out := ocsp(); !strings.Contains(out, certFile+": revoked") {
		t.Fatalf("right after revocation:\n%s", out)
	}

	t.Run("OperatorCommands", func(t *testing.T) {
		if out, code := run(t, nil, "--data", data, "ca", "list"); code != 0 || !strings.Contains(out, serial) || !strings.Contains(out, "revoked") {
			t.Errorf("ca list: %d\n%s", code, out)
		}
		if out, code := run(t, nil, "--data", data, "ca", "show", serial); code != 0 || !strings.Contains(out, "PNOJO-9861234567") || !strings.Contains(out, "keyCompromise") {
			t.Errorf("ca show: %d\n%s", code, out)
		}
		crlFile := filepath.Join(dir, "crl.pem")
		if out, code := run(t, nil, "--data", data, "ca", "crl", "--out", crlFile); code != 0 {
			t.Errorf("ca crl: %d\n%s", code, out)
		}
		chain := write("chain.pem", append(get(t, base+"/ca/citizen-ca.pem"), get(t, base+"/ca/root.pem")...))
		out, err := exec.Command(openssl, "crl", "-in", crlFile, "-CAfile", chain, "-verify", "-noout", "-text").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "verify OK") || !strings.Contains(strings.ToLower(string(out)), serial) {
			t.Errorf("openssl crl: %v\n%s", err, out)
		}
	})
	t.Run("Refusals", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"ca", "revoke", serial, "--reason", "keyCompromise"}, 1, "already revoked"},
			{[]string{"ca", "revoke", serial, "--reason", "bogus"}, 3, "one of"},
			{[]string{"ca", "revoke", "zz-not-hex", "--reason", "superseded"}, 1, "not a serial"},
			{[]string{"ca", "show", "abcdef"}, 1, "not found"},
			{[]string{"ca", "issue", "--profile", "citizen-signing", "--csr", subj, "--subject-json", subj}, 1, "certificate signing request"},
			{[]string{"ca", "issue", "--profile", "citizen-signing", "--csr", csrFile, "--subject-json", write("bad.json", []byte(`{"national_id":"123"}`))}, 1, "10 digits"},
			{[]string{"init"}, 1, "in use by another thiqa process"},
		} {
			out, code := run(t, nil, append([]string{"--data", data}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("thiqa %s: exit %d, want %d with %q:\n%s", strings.Join(tc.args, " "), code, tc.code, tc.want, out)
			}
		}
		out, _ := run(t, nil, "--data", data, "ca", "list")
		if strings.Count(out, "\n") != 2 {
			t.Errorf("refused commands changed the store:\n%s", out)
		}
	})

	// A second start reuses everything.
	srv.Process.Signal(os.Interrupt)
	srv.Wait()
	if _, err := os.Stat(filepath.Join(data, "admin.sock")); err == nil {
		t.Error("admin socket left behind after a clean stop")
	}
	if out, code := run(t, nil, "--data", data, "init"); code != 1 || !strings.Contains(out, "already done") {
		t.Errorf("second init: exit %d\n%s", code, out)
	}
	_, printed2 := serve(t, data, addr)
	if strings.Contains(printed2, "created") || strings.Contains(printed2, "ceremony done") {
		t.Errorf("second start created something:\n%s", printed2)
	}
	if !bytes.Equal(get(t, base+"/ca/root.pem"), must(os.ReadFile(root))) {
		t.Error("root changed across restarts")
	}
	if out := ocsp(); !strings.Contains(out, ": revoked") {
		t.Errorf("after restart:\n%s", out)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Subjects of `thiqa ca issue --subject-json` for the tests.
const (
	citizenSubject = `{"national_id":"9861234567","given_name":"Omar","surname":"Khalil","given_name_ar":"عمر","surname_ar":"خليل"}`
	esealSubject   = `{"organization":"Ministry of Health","organization_identifier":"GOVJO-100200300"}`
)

// issueInputs writes the inputs of `thiqa ca issue` to dir: a CSR of a
// fresh P-256 key and the subject JSON. It returns their paths.
func issueInputs(t *testing.T, dir, subject string) (csrFile, subjectFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	csrFile, subjectFile = filepath.Join(dir, "c.csr"), filepath.Join(dir, "s.json")
	if err := os.WriteFile(csrFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(subjectFile, []byte(subject), 0o600); err != nil {
		t.Fatal(err)
	}
	return csrFile, subjectFile
}
