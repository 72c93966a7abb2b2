package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAdminOIDCClientAdd registers relying parties with the CLI.
func TestAdminOIDCClientAdd(t *testing.T) {
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
		{"add", []string{"--name-ar", "وزارة العدل", "--name-en", "Ministry of Justice", "--redirect-uri", "https://moj.example.jo/cb", "--scope", "national_id"}, true, "client secret (shown once): "},
		{"http redirect", []string{"--name-ar", "و", "--name-en", "M", "--redirect-uri", "http://moj.example.jo/cb"}, false, "must use https"},
		{"unknown scope", []string{"--name-ar", "و", "--name-en", "M", "--redirect-uri", "https://a.example/cb", "--scope", "everything"}, false, "unknown scope"},
		{"no redirect", []string{"--name-ar", "و", "--name-en", "M"}, false, "redirect-uri"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := run(t, nil, append([]string{"admin", "agency", "oidc-client", "add", "--data", data}, tc.args...)...)
			if (code == 0) != tc.ok || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d: %s", code, out)
			}
			if tc.ok && !regexp.MustCompile(`oidc client rp-[A-Za-z0-9_-]{22} added`).MatchString(out) {
				t.Errorf("no client ID printed: %s", out)
			}
		})
	}
}
