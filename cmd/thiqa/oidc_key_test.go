package main

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// jwksKids returns the key IDs that a running serve at addr publishes in
// the JWKS named by its OpenID discovery document.
func jwksKids(t *testing.T, addr string) []string {
	t.Helper()
	var disc struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(get(t, "http://"+addr+"/oidc/.well-known/openid-configuration"), &disc); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(disc.JWKS)
	if err != nil || u.Path == "" {
		t.Fatalf("jwks_uri %q: %v", disc.JWKS, err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(get(t, "http://"+addr+u.Path), &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		if k.Alg != "ES256" {
			t.Errorf("key %s: alg %s", k.Kid, k.Alg)
		}
		kids = append(kids, k.Kid)
	}
	slices.Sort(kids)
	return kids
}

// TestAdminOIDCKeyRotate rotates the ID-token signing key with the CLI:
// refused while serve holds the store; afterwards a restarted serve
// publishes the new key and the previous one, and a second rotation
// retires the first; each rotation is in the audit log, which verifies.
func TestAdminOIDCKeyRotate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if out, code := run(t, nil, "init", "--data", data); code != 0 {
		t.Fatalf("init: %s", out)
	}
	addr := freeAddr(t)
	srv, _ := serve(t, data, addr)
	if got := jwksKids(t, addr); !slices.Equal(got, []string{"oidc-signing-1"}) {
		t.Fatalf("JWKS after init: %v", got)
	}
	if out, code := run(t, nil, "admin", "oidc-key", "rotate", "--data", data); code == 0 || !strings.Contains(out, "stop thiqa serve first") {
		t.Fatalf("rotate while serve runs: exit %d\n%s", code, out)
	}
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()

	for i, want := range [][]string{{"oidc-signing-1", "oidc-signing-2"}, {"oidc-signing-2", "oidc-signing-3"}} {
		out, code := run(t, nil, "admin", "oidc-key", "rotate", "--data", data)
		newKey := want[1]
		if code != 0 || !strings.Contains(out, "signed by "+newKey) {
			t.Fatalf("rotation %d: exit %d\n%s", i+1, code, out)
		}
		srv, _ := serve(t, data, addr)
		if got := jwksKids(t, addr); !slices.Equal(got, want) {
			t.Errorf("JWKS after rotation %d: %v, want %v", i+1, got, want)
		}
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}
	out, code := run(t, nil, "audit", "verify", "--data", data)
	if code != 0 {
		t.Fatalf("audit verify: exit %d\n%s", code, out)
	}
	var rotated []string
	for i := 0; i < 200; i++ {
		out, code := run(t, nil, "audit", "show", strconv.Itoa(i), "--data", data)
		if code != 0 {
			break
		}
		var rec struct {
			Record struct {
				Actor   string `json:"actor"`
				Action  string `json:"action"`
				Subject string `json:"subject"`
			} `json:"record"`
		}
		if err := json.Unmarshal([]byte(out), &rec); err != nil {
			t.Fatalf("audit show %d: %v\n%s", i, err, out)
		}
		if rec.Record.Action == "oidc.key-rotate" {
			if !strings.HasPrefix(rec.Record.Actor, "operator:") {
				t.Errorf("rotation recorded with actor %q", rec.Record.Actor)
			}
			rotated = append(rotated, rec.Record.Subject)
		}
	}
	if !slices.Equal(rotated, []string{"key:oidc-signing-2", "key:oidc-signing-3"}) {
		t.Errorf("audit records of rotations: %v", rotated)
	}
}
