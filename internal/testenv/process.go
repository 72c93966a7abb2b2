package testenv

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BuildThiqa builds cmd/thiqa into a temporary folder and returns the
// binary's path.
func BuildThiqa(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "thiqa")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/thiqa/thiqa/cmd/thiqa").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// GatewaySecret writes a fresh 32-byte secret, in hex, to the file name in
// dir, as thiqa serve and thiqa sandbox-gateway read it; it returns the
// file's path and the secret.
func GatewaySecret(t testing.TB, dir, name string) (string, []byte) {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, b
}

// SandboxGateway runs `bin sandbox-gateway` on 127.0.0.1 as a child
// process with the secret in secretFile, calling Thiqa back at callback,
// and returns its URL once it answers /healthz. The process is
// interrupted when the test ends; its log is shown if the test failed.
func SandboxGateway(t testing.TB, bin, secretFile, callback string) string {
	t.Helper()
	cmd := exec.Command(bin, "sandbox-gateway", "--addr", "127.0.0.1:0", "--secret-file", secretFile, "--callback-url", callback)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "sandbox gateway listening on ")
	if err != nil || !ok {
		t.Fatalf("gateway start: %q %v\n%s", line, err, logs.String())
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("gateway health: %v %v", resp, err)
	}
	resp.Body.Close()
	return base
}
