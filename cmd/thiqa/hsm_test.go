package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/internal/testtool"
)

// softhsmToken makes a SoftHSM2 token in its own SOFTHSM2_CONF directory
// and returns the environment that selects it and the token's URI with the
// PIN in a file.
func softhsmToken(t *testing.T) (env []string, uri string) {
	t.Helper()
	util := testtool.Require(t, "softhsm2-util")
	const module = "/usr/lib/softhsm/libsofthsm2.so"
	if _, err := os.Stat(module); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("SoftHSM2 module missing (apt-get install softhsm2): %v", err)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	conf := filepath.Join(dir, "softhsm2.conf")
	pin := filepath.Join(dir, "pin")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	must(0, os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nlog.level = ERROR\n"), 0o600))
	must(0, os.WriteFile(pin, []byte("1234\n"), 0o600))
	env = []string{"SOFTHSM2_CONF=" + conf}
	cmd := exec.Command(util, "--init-token", "--free", "--label", "thiqa", "--pin", "1234", "--so-pin", "5678")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	return env, fmt.Sprintf("pkcs11:token=thiqa?module-path=%s&pin-source=file:%s", module, pin)
}

func TestInitOnHSM(t *testing.T) {
	env, uri := softhsmToken(t)
	data := filepath.Join(t.TempDir(), "data")

	out, code := run(t, env, "hsm", "status", "--hsm", uri)
	if code != 3 || !strings.Contains(out, "KEK       none") {
		t.Fatalf("status of a fresh token: exit %d\n%s", code, out)
	}
	out, code = run(t, env, "init", "--data", data, "--hsm", uri)
	if code != 0 || !strings.Contains(out, "key ceremony done") {
		t.Fatalf("init --hsm: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(data, "kek")); !os.IsNotExist(err) {
		t.Errorf("init --hsm wrote a software KEK file (stat: %v)", err)
	}
	if keys, _ := filepath.Glob(filepath.Join(data, "keys", "*.key")); len(keys) != 0 {
		t.Errorf("init --hsm wrote software keys: %v", keys)
	}
	out, code = run(t, append(env, "THIQA_HSM="+uri), "hsm", "status")
	if code != 0 || !strings.Contains(out, "thiqa-kek-1 (current, CKM_AES_KEY_WRAP_PAD)") || !strings.Contains(out, "root-") || !strings.Contains(out, "ocsp-citizen-ca-") {
		t.Fatalf("status after init: exit %d\n%s", code, out)
	}
	out, code = run(t, env, "ca", "list", "--data", data, "--hsm", uri)
	if code != 0 {
		t.Fatalf("ca list on the token: exit %d\n%s", code, out)
	}
	t.Run("serve", func(t *testing.T) { serveOnHSM(t, env, uri, data) })
	out, code = run(t, env, "hsm", "status", "--hsm", strings.Replace(uri, "pin-source=file:", "pin-value=0000&x=", 1))
	if code != 1 || !strings.Contains(out, "unknown query attribute") {
		t.Fatalf("bad URI: exit %d\n%s", code, out)
	}
	out, code = run(t, env, "hsm", "status", "--hsm", uri[:strings.Index(uri, "&")]+"&pin-value=0000")
	if code != 1 || !strings.Contains(out, "wrong PIN") {
		t.Fatalf("wrong PIN: exit %d\n%s", code, out)
	}
}

// serveOnHSM serves the data directory with its keys on the token (through
// $THIQA_HSM) and has openssl get a time-stamp signed there.
func serveOnHSM(t *testing.T, env []string, uri, data string) {
	openssl := testtool.Require(t, "openssl")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("THIQA_HSM", uri)
	addr := freeAddr(t)
	serve(t, data, addr)
	base := "http://" + addr
	if pem := get(t, base+"/ca/root.pem"); !strings.Contains(string(pem), "BEGIN CERTIFICATE") {
		t.Fatalf("root.pem:\n%s", pem)
	}
	dir := t.TempDir()
	doc, query := filepath.Join(dir, "doc.txt"), filepath.Join(dir, "q.tsq")
	must(0, os.WriteFile(doc, []byte("thiqa"), 0o600))
	if out, err := exec.Command(openssl, "ts", "-query", "-data", doc, "-sha256", "-cert", "-out", query).CombinedOutput(); err != nil {
		t.Fatalf("openssl ts -query: %v\n%s", err, out)
	}
	q := must(os.ReadFile(query))
	resp, err := http.Post(base+"/tsa", "application/timestamp-query", bytes.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply := filepath.Join(dir, "r.tsr")
	must(0, os.WriteFile(reply, must(io.ReadAll(resp.Body)), 0o600))
	out, err := exec.Command(openssl, "ts", "-reply", "-in", reply, "-text").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Status: Granted.") {
		t.Fatalf("time-stamp from the token: %v\n%s", err, out)
	}
}
