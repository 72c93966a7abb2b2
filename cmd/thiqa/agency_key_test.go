package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/internal/node"
)

// TestAdminAgencyRotateDisable: with the CLI an operator rotates a leaked
// agency key (the old key is refused, the new one printed once works),
// disables the agency (no key works) and enables it again; an unknown
// agency is an error that changes nothing.
func TestAdminAgencyRotateDisable(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if out, code := run(t, nil, "init", "--data", data); code != 0 {
		t.Fatalf("init: %s", out)
	}
	keyRE := regexp.MustCompile(`thq_[A-Za-z0-9]+_[A-Za-z0-9_-]{40,}`)
	out, code := run(t, nil, "admin", "agency", "add", "--data", data, "--name", "Ministry of Justice")
	oldKey := keyRE.FindString(out)
	if code != 0 || oldKey == "" {
		t.Fatalf("add: exit %d\n%s", code, out)
	}
	out, code = run(t, nil, "admin", "agency", "rotate-key", "--data", data, "Ministry of Justice")
	newKey := keyRE.FindString(out)
	if code != 0 || newKey == "" || newKey == oldKey || !strings.Contains(out, "shown once") {
		t.Fatalf("rotate-key: exit %d\n%s", code, out)
	}
	// authenticates reports which keys the stored agency accepts.
	authenticates := func(keys ...string) []bool {
		t.Helper()
		n, _, err := node.Open(context.Background(), node.Options{Dir: data})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		var ok []bool
		for _, k := range keys {
			_, err := n.Signing.AuthenticateAgency(context.Background(), k)
			ok = append(ok, err == nil)
		}
		return ok
	}
	if got := authenticates(oldKey, newKey); got[0] || !got[1] {
		t.Fatalf("after rotation: old key accepted %v, new key accepted %v", got[0], got[1])
	}
	for _, step := range []struct {
		args []string
		code int
		want string
		new  bool // whether the new key works afterwards
	}{
		{[]string{"disable", "Ministry of Justice"}, 0, "disabled", false},
		{[]string{"enable", "Ministry of Justice"}, 0, "enabled", true},
		{[]string{"disable", "Ministry of Finance"}, 1, "no agency", true},
		{[]string{"rotate-key", "Ministry of Finance"}, 1, "no agency", true},
		{[]string{"rotate-key"}, 1, "accepts 1 arg", true},
	} {
		out, code := run(t, nil, append([]string{"admin", "agency", step.args[0], "--data", data}, step.args[1:]...)...)
		if code != step.code || !strings.Contains(out, step.want) {
			t.Errorf("%v: exit %d, want %d and %q\n%s", step.args, code, step.code, step.want, out)
		}
		if got := authenticates(newKey); got[0] != step.new {
			t.Errorf("after %v the new key is accepted: %v, want %v", step.args, got[0], step.new)
		}
	}
}
