package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRotateKEK rotates the key-encryption key with the CLI, on the
// software backend and on a SoftHSM2 token, with an officer whose TOTP
// secret is sealed under it, and checks that the node opens and signs
// audit checkpoints afterwards.
func TestRotateKEK(t *testing.T) {
	setup := func(t *testing.T, env []string, args ...string) string {
		t.Helper()
		data := filepath.Join(t.TempDir(), "data")
		if out, code := run(t, env, append([]string{"init", "--data", data}, args...)...); code != 0 {
			t.Fatalf("init: %s", out)
		}
		if out, code := run(t, env, append([]string{"admin", "centre", "add", "--data", data, "--code", "AMM-01", "--name-en", "Amman", "--name-ar", "عمان", "--governorate", "Amman"}, args...)...); code != 0 {
			t.Fatalf("centre add: %s", out)
		}
		if out, code := run(t, env, append([]string{"admin", "officer", "add", "--data", data, "--username", "omar", "--centre", "AMM-01"}, args...)...); code != 0 {
			t.Fatalf("officer add: %s", out)
		}
		return data
	}
	checkpoint := func(t *testing.T, env []string, data string, args ...string) {
		t.Helper()
		if out, code := run(t, env, append([]string{"audit", "checkpoint", "--sign", "--data", data}, args...)...); code != 0 {
			t.Fatalf("audit checkpoint after rotation: exit %d: %s", code, out)
		}
		if out, code := run(t, env, append([]string{"audit", "verify", "--data", data}, args...)...); code != 0 {
			t.Fatalf("audit verify after rotation: exit %d: %s", code, out)
		}
	}

	t.Run("software", func(t *testing.T) {
		data := setup(t, nil)
		kek := filepath.Join(data, "kek")
		before, _ := os.ReadFile(kek)
		if out, code := run(t, []string{"THIQA_KEK=" + strings.TrimSpace(string(before))}, "hsm", "rotate-kek", "--data", data); code == 0 || !strings.Contains(out, "--kek-file") {
			t.Errorf("rotation with THIQA_KEK: exit %d: %s", code, out)
		}
		out, code := run(t, nil, "hsm", "rotate-kek", "--data", data)
		if code != 0 || !strings.Contains(out, "officers: 1, sealed secrets 1 (1 moved now)") || !strings.Contains(out, "kek.old") {
			t.Fatalf("rotate-kek: exit %d: %s", code, out)
		}
		if strings.Contains(out, "custody keys re-sealed: 0") {
			t.Errorf("no custody key re-sealed: %s", out)
		}
		after, _ := os.ReadFile(kek)
		old, _ := os.ReadFile(kek + ".old")
		if bytes.Equal(after, before) || !bytes.Equal(old, before) {
			t.Fatal("the KEK did not change, or the old one is not kept as kek.old")
		}
		checkpoint(t, nil, data)
		if out, code := run(t, nil, "hsm", "rotate-kek", "--data", data); code == 0 || !strings.Contains(out, "destroy them") {
			t.Errorf("second rotation with kek.old present: exit %d: %s", code, out)
		}
		if out, code := run(t, nil, "ca", "list", "--data", data, "--kek-file", kek+".old"); code == 0 {
			t.Errorf("the old KEK still opens the keys: %s", out)
		}
	})

	t.Run("pkcs11", func(t *testing.T) {
		env, uri := softhsmToken(t)
		data := setup(t, env, "--hsm", uri)
		out, code := run(t, env, "hsm", "rotate-kek", "--data", data, "--hsm", uri, "--destroy-old")
		if code != 0 || !strings.Contains(out, "rotated: thiqa-kek-2") || !strings.Contains(out, "sealed secrets 1 (1 moved now)") ||
			!strings.Contains(out, "destroyed the old generations: thiqa-kek-1") {
			t.Fatalf("rotate-kek --hsm: exit %d: %s", code, out)
		}
		out, code = run(t, env, "hsm", "status", "--hsm", uri)
		if code != 0 || !strings.Contains(out, "thiqa-kek-2 (current") || strings.Contains(out, "thiqa-kek-1") {
			t.Fatalf("status after rotation: exit %d: %s", code, out)
		}
		checkpoint(t, env, data, "--hsm", uri)
		if out, code := run(t, env, "hsm", "rotate-kek", "--data", data, "--hsm", uri, "--resume"); code != 0 || !strings.Contains(out, "rotated: thiqa-kek-2") {
			t.Fatalf("rotate-kek --resume: exit %d: %s", code, out)
		}
	})
}
