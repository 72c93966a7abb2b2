package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/thiqa/thiqa/platform/catalogue"
)

// CatalogueService is the service catalogue (*catalogue.Catalogue).
type CatalogueService interface {
	Search(ctx context.Context, q catalogue.Query) ([]catalogue.Service, error)
	Service(ctx context.Context, code string) (catalogue.Service, error)
}

var _ CatalogueService = (*catalogue.Catalogue)(nil)

func init() {
	routeSets = append(routeSets, (*Server).catalogueRoutes)
	errorMap = append(errorMap, []struct {
		err    error
		status int
		slug   string
	}{
		{catalogue.ErrNotFound, http.StatusNotFound, "service-not-found"},
		{catalogue.ErrInvalid, http.StatusBadRequest, "bad-request"},
	}...)
}

// serviceList is the answer of GET /api/v1/services; Next, when set, is
// the "after" of the next page.
type serviceList struct {
	Services []catalogue.Service `json:"services"`
	Next     string              `json:"next,omitempty"`
}

// catalogueRoutes serve the public catalogue: GET /api/v1/services
// (?q=text in Arabic or English, ?agency=, ?after=, ?limit=) and GET
// /api/v1/services/{code}. Anyone may call them (routeAccess).
func (s *Server) catalogueRoutes(mux *http.ServeMux) {
	const list, one = "GET /api/v1/services", "GET /api/v1/services/{code}"
	mux.HandleFunc(list, s.authorize(list, func(w http.ResponseWriter, r *http.Request) {
		if s.Catalogue == nil {
			s.writeError(w, r, ErrUnavailable)
			return
		}
		q := r.URL.Query()
		query := catalogue.Query{Text: q.Get("q"), Agency: q.Get("agency"), After: q.Get("after")}
		if len(query.Text) > 200 || len(query.Agency) > 64 || len(query.After) > 64 {
			s.writeError(w, r, fmt.Errorf("%w: q, agency or after too long", ErrBadRequest))
			return
		}
		if l := q.Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 || n > 500 {
				s.writeError(w, r, fmt.Errorf("%w: limit %q: want 1 to 500", ErrBadRequest, l))
				return
			}
			query.Limit = n
		}
		svcs, err := s.Catalogue.Search(r.Context(), query)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := serviceList{Services: svcs}
		limit := query.Limit
		if limit == 0 {
			limit = 50 // the catalogue's default page
		}
		if len(svcs) == limit {
			out.Next = svcs[len(svcs)-1].Code
		}
		w.Header().Set("Cache-Control", "public, max-age=60")
		writeJSON(w, http.StatusOK, out)
	}))
	mux.HandleFunc(one, s.authorize(one, func(w http.ResponseWriter, r *http.Request) {
		if s.Catalogue == nil {
			s.writeError(w, r, ErrUnavailable)
			return
		}
		svc, err := s.Catalogue.Service(r.Context(), r.PathValue("code"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=60")
		writeJSON(w, http.StatusOK, svc)
	}))
}
