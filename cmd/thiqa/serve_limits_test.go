package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeLimitFlags: serve refuses limits out of range with a message
// naming the flag, before it creates anything.
func TestServeLimitFlags(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--activation-code-ttl", "0s"}, "--activation-code-ttl 0s: want 1m0s to 168h0m0s"},
		{[]string{"--activation-code-ttl", "200h"}, "--activation-code-ttl 200h0m0s"},
		{[]string{"--activation-code-ttl", "soon"}, `invalid argument "soon" for "--activation-code-ttl"`},
		{[]string{"--max-documents", "0"}, "--max-documents 0: want 1 to 64"},
		{[]string{"--max-documents", "65"}, "--max-documents 65"},
		{[]string{"--max-document-size", "100"}, "--max-document-size 100: want 1024 to 25165824 bytes"},
		{[]string{"--max-document-size", "33554432"}, "--max-document-size 33554432"},
	} {
		t.Run(strings.Join(tc.flags, " "), func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			out, code := run(t, nil, append([]string{"serve", "--data", data, "--addr", freeAddr(t)}, tc.flags...)...)
			if code == 0 || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want non-zero with %q:\n%s", code, tc.want, out)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("the data directory was created: %v", err)
			}
		})
	}
}
