package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/store"
)

// TestLogsKeepNoNationalNumber checks that the request and refusal log
// lines of the officer routes that carry a national number in their path
// name the route's {nid} instead of the number.
func TestLogsKeepNoNationalNumber(t *testing.T) {
	e := newEnrEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	const nid = "9861234567"
	e.activate(t, off, nid)
	if rec := e.call(t, "GET", "/api/v1/identities/"+nid, off, nil, nil); rec.Code != 200 {
		t.Fatalf("identity: %d %s", rec.Code, rec.Body)
	}
	if rec := e.call(t, "GET", "/api/v1/identities/"+nid, "", nil, nil); rec.Code != 401 {
		t.Fatalf("identity without a session: %d %s", rec.Code, rec.Body)
	}
	var lines map[string]int
	for l := range strings.Lines(e.log.String()) {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) != nil {
			continue
		}
		path, _ := rec["path"].(string)
		if strings.Contains(path, nid) {
			t.Errorf("a %v line logs the national number: %s", rec["msg"], l)
		}
		if path == "/api/v1/identities/{nid}" {
			if lines == nil {
				lines = map[string]int{}
			}
			lines[rec["msg"].(string)]++
		}
	}
	if lines["request"] != 2 || lines["refused"] != 1 {
		t.Errorf("log lines for /api/v1/identities/{nid}: %v, want 2 request lines and 1 refused", lines)
	}
}
