package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/store"
	"github.com/thiqa/thiqa/web/internal/ui"
)

// TestAuthorizationMatrix opens every page of pageAccess as every kind of
// person and checks that the table decides: allowed kinds get past the
// gate (whatever the page then says of the empty form), others get the
// sign-in page (GET), 401 (POST) or 403.
func TestAuthorizationMatrix(t *testing.T) {
	e := newEnv(t)
	roles := map[access]string{Officer: store.RoleOfficer, Supervisor: store.RoleSupervisor, Admin: store.RoleAdmin}
	for _, k := range kinds {
		if r, ok := roles[k.kind]; ok {
			e.officer(t, k.name, r, "AMM-01")
		}
	}
	var patterns []string
	for p := range pageAccess {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	for _, pattern := range patterns {
		for _, k := range kinds {
			t.Run(pattern+" as "+k.name, func(t *testing.T) {
				b := e.browser()
				if k.kind != Anonymous {
					b = e.signedIn(t, k.name)
				}
				method, path, _ := strings.Cut(pattern, " ")
				path = strings.ReplaceAll(path, "{id}", "some-id")
				if strings.HasSuffix(path, "/assets/") {
					path += "thiqa.css"
				}
				var rec *httptest.ResponseRecorder
				if method == http.MethodPost {
					rec = b.post(t, path, url.Values{})
				} else {
					rec = b.get(t, path)
				}
				allowed := pageAccess[pattern]&k.kind != 0
				gate := (rec.Code == http.StatusUnauthorized && strings.Contains(rec.Body.String(), ui.T(ui.Arabic, "err.signin-first"))) ||
					(rec.Code == http.StatusForbidden && strings.Contains(rec.Body.String(), ui.T(ui.Arabic, "err.forbidden")))
				switch {
				case allowed && gate:
					t.Fatalf("allowed but refused: %d %s", rec.Code, rec.Body)
				case allowed && rec.Code == http.StatusSeeOther && rec.Header().Get("Location") == "/"+section(path)+"/" && method == http.MethodGet:
					t.Fatalf("allowed but sent to sign in")
				case !allowed && k.kind == Anonymous && method == http.MethodGet:
					if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/"+section(path)+"/" {
						t.Fatalf("anonymous GET: %d %v, want 303 to the sign-in page", rec.Code, rec.Header())
					}
				case !allowed && k.kind == Anonymous:
					if rec.Code != http.StatusUnauthorized || !gate {
						t.Fatalf("anonymous POST: %d, want 401", rec.Code)
					}
				case !allowed:
					if rec.Code != http.StatusForbidden || !gate {
						t.Fatalf("%s: %d, want 403", k.name, rec.Code)
					}
				}
			})
		}
	}
}

// TestEveryRouteInTable checks that the server registers exactly the
// patterns of pageAccess (handle panics on one missing from the table).
func TestEveryRouteInTable(t *testing.T) {
	e := newEnv(t)
	if len(e.srv.patterns) != len(pageAccess) {
		t.Fatalf("%d routes registered, %d in pageAccess", len(e.srv.patterns), len(pageAccess))
	}
	for _, p := range e.srv.patterns {
		if _, ok := pageAccess[p]; !ok {
			t.Errorf("%s not in pageAccess", p)
		}
	}
}
