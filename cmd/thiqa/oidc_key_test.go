package main

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"regexp"
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
	for _, r := range auditRecords(t, data, "oidc.key-rotate") {
		if !strings.HasPrefix(r.Actor, "operator:") {
			t.Errorf("rotation recorded with actor %q", r.Actor)
		}
		rotated = append(rotated, r.Subject)
	}
	if !slices.Equal(rotated, []string{"key:oidc-signing-2", "key:oidc-signing-3"}) {
		t.Errorf("audit records of rotations: %v", rotated)
	}
}

// auditEntry is a record of thiqa audit show --details.
type auditEntry struct {
	Actor, Subject string
	Details        json.RawMessage
}

// auditRecords returns the records of the data directory's audit log
// whose action is action, with their details, through thiqa audit show.
func auditRecords(t *testing.T, data, action string) []auditEntry {
	t.Helper()
	var out []auditEntry
	for i := 0; i < 500; i++ {
		shown, code := run(t, nil, "audit", "show", strconv.Itoa(i), "--details", "--data", data)
		if code != 0 {
			break // past the last record
		}
		var rec struct {
			Record struct {
				Actor   string `json:"actor"`
				Action  string `json:"action"`
				Subject string `json:"subject"`
			} `json:"record"`
			Details json.RawMessage `json:"details"`
		}
		if err := json.Unmarshal([]byte(shown), &rec); err != nil {
			t.Fatalf("audit show %d: %v\n%s", i, err, shown)
		}
		if rec.Record.Action == action {
			out = append(out, auditEntry{rec.Record.Actor, rec.Record.Subject, rec.Details})
		}
	}
	return out
}

// TestAdminOIDCClientAddAudited checks that registering a relying party,
// an admin change that may grant the national_id scope, is recorded in
// the audit log with what was granted.
func TestAdminOIDCClientAddAudited(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if out, code := run(t, nil, "init", "--data", data); code != 0 {
		t.Fatalf("init: %s", out)
	}
	out, code := run(t, nil, "admin", "agency", "oidc-client", "add", "--data", data, "--name-ar", "وزارة العدل", "--name-en", "Ministry of Justice",
		"--redirect-uri", "https://moj.example.jo/callback", "--scope", "national_id")
	id := regexp.MustCompile(`oidc client (rp-\S+) added`).FindStringSubmatch(out)
	if code != 0 || id == nil {
		t.Fatalf("oidc-client add: exit %d\n%s", code, out)
	}
	recs := auditRecords(t, data, "oidc.client-add")
	if len(recs) != 1 || recs[0].Subject != "oidc-client:"+id[1] || !strings.HasPrefix(recs[0].Actor, "operator:") {
		t.Fatalf("audit records of the registration: %+v", recs)
	}
	var d struct {
		NameEn       string   `json:"name_en"`
		RedirectURIs []string `json:"redirect_uris"`
		Scopes       []string `json:"scopes"`
		AuthMethod   string   `json:"auth_method"`
	}
	if err := json.Unmarshal(recs[0].Details, &d); err != nil || d.NameEn != "Ministry of Justice" || !slices.Equal(d.Scopes, []string{"national_id"}) ||
		!slices.Equal(d.RedirectURIs, []string{"https://moj.example.jo/callback"}) || d.AuthMethod == "" {
		t.Fatalf("details of the registration: %s (%v)", recs[0].Details, err)
	}
	secret := regexp.MustCompile(`client secret \(shown once\): (\S+)`).FindStringSubmatch(out)
	if secret == nil || strings.Contains(string(recs[0].Details), secret[1]) {
		t.Errorf("no client secret printed, or the audit details hold it: %s", recs[0].Details)
	}
}
