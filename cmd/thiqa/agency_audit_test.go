package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAdminAgencyAddAudited checks that thiqa admin agency add leaves an
// audit record naming the operator, the agency and its scopes, and
// neither its API key nor its webhook secret.
func TestAdminAgencyAddAudited(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if out, code := run(t, nil, "init", "--data", data); code != 0 {
		t.Fatalf("init: %s", out)
	}
	out, code := run(t, nil, "admin", "agency", "add", "--data", data, "--name", "Land Department", "--scope", "sign-requests,verify")
	id := regexp.MustCompile(`agency (\S+) added`).FindStringSubmatch(out)
	key := regexp.MustCompile(`API key \(shown once\): (\S+)`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`webhook secret \(shown once\): (\S+)`).FindStringSubmatch(out)
	if code != 0 || id == nil || key == nil || secret == nil {
		t.Fatalf("agency add: exit %d\n%s", code, out)
	}
	recs := auditRecords(t, data, "agency.added")
	if len(recs) != 1 || recs[0].Subject != "agency:"+id[1] || !strings.HasPrefix(recs[0].Actor, "operator:") {
		t.Fatalf("audit records of the addition: %+v", recs)
	}
	var d struct {
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
	}
	if err := json.Unmarshal(recs[0].Details, &d); err != nil || d.Name != "Land Department" || strings.Join(d.Scopes, ",") != "sign-requests,verify" {
		t.Fatalf("details of the addition: %s (%v)", recs[0].Details, err)
	}
	if s := string(recs[0].Details); strings.Contains(s, key[1]) || strings.Contains(s, secret[1]) {
		t.Fatalf("the audit details hold the agency's key or webhook secret: %s", s)
	}
}
