package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAdminAgencyAdd registers an agency with the CLI: the API key is
// printed once, and a second agency of the same name is refused.
func TestAdminAgencyAdd(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if out, code := run(t, nil, "init", "--data", data); code != 0 {
		t.Fatalf("init: %s", out)
	}
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
		want string
	}{
		{"add", []string{"--name", "Ministry of Justice", "--scope", "sign-requests,verify"}, true, "API key (shown once): thq_"},
		{"same name", []string{"--name", "Ministry of Justice"}, false, "exists"},
		{"unknown scope", []string{"--name", "Other", "--scope", "everything"}, false, "unknown scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := run(t, nil, append([]string{"admin", "agency", "add", "--data", data}, tc.args...)...)
			if (code == 0) != tc.ok || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d: %s", code, out)
			}
			if tc.ok && !regexp.MustCompile(`thq_[A-Za-z0-9]+_[A-Za-z0-9_-]{40,}`).MatchString(out) {
				t.Errorf("no API key printed: %s", out)
			}
		})
	}
}
