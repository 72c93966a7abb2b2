package api

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/internal/problem"
	"github.com/thiqa/thiqa/store"
)

// TestAuthorizationMatrix walks every route of routeAccess with every kind
// of principal: each is let through exactly when the table says so, and
// refused with 401 (no credentials) or 403 otherwise.
func TestAuthorizationMatrix(t *testing.T) {
	se := newSignEnv(t)
	e := se.enrEnv
	admin := e.officer(t, "", "root", store.RoleAdmin)
	tokens := map[access]string{
		Admin:      admin,
		Officer:    e.officer(t, admin, "omar", store.RoleOfficer),
		Supervisor: e.officer(t, admin, "sara", store.RoleSupervisor),
	}
	_, s := e.signIn(t, e.activate(t, tokens[Officer], "9861234567"))
	tokens[Citizen] = s.Token
	tokens[Agency] = se.agency(t, "Matrix Agency", "sign-requests").Key

	var routes []string
	for r := range routeAccess {
		routes = append(routes, r)
	}
	sort.Slice(routes, func(i, j int) bool { // sign out last: it ends the session
		return !strings.HasSuffix(routes[i], "/signout") && (strings.HasSuffix(routes[j], "/signout") || routes[i] < routes[j])
	})
	path := strings.NewReplacer("{nid}", "0000000001", "{device}", "AAAA", "{id}", "nope", "{n}", "0")
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			for _, route := range routes {
				method, p, _ := strings.Cut(route, " ")
				rec := e.call(t, method, path.Replace(p), tokens[k.kind], "{}", nil)
				var pd struct {
					problem.Details
					CSC string `json:"error_description"` // CSC error objects under /csc/v2/
				}
				json.Unmarshal(rec.Body.Bytes(), &pd)
				if strings.HasPrefix(p, "/csc/") {
					pd.Detail = pd.CSC
				}
				refused := strings.Contains(pd.Detail, refusedPrefix)
				allowed := routeAccess[route]&k.kind != 0
				switch {
				case allowed && (refused || pd.Detail == "no such API endpoint"):
					t.Errorf("%s: %d %s, want it let through", route, rec.Code, pd.Detail)
				case !allowed && !refused:
					t.Errorf("%s: %d %s, want it refused", route, rec.Code, pd.Detail)
				case !allowed && k.kind == Anonymous && rec.Code != 401:
					t.Errorf("%s: %d, want 401", route, rec.Code)
				case !allowed && k.kind != Anonymous && rec.Code != 403:
					t.Errorf("%s: %d, want 403", route, rec.Code)
				}
			}
		})
	}
}

// TestAuthorizationTable checks the table's own invariants.
func TestAuthorizationTable(t *testing.T) {
	for route, a := range routeAccess {
		if a == 0 {
			t.Errorf("%s: allowed to no one", route)
		}
		if strings.HasPrefix(route, "POST /api/v1/approvals/") && a&(Officer|Citizen|Anonymous) != 0 {
			t.Errorf("%s: four eyes needs a supervisor or admin", route)
		}
		if strings.Contains(route, "/me") && a != Citizen {
			t.Errorf("%s: citizen routes are for citizens only", route)
		}
		if a&Agency != 0 && strings.Contains(route, "/identities/") {
			t.Errorf("%s: agencies do not manage identities", route)
		}
	}
}
