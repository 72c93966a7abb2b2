package requests

import (
	"errors"
	"html/template"
	"net/http"
	"strconv"

	"github.com/thiqa/thiqa/store"
)

// PagePrefix is where [Service.AgencyPages] are mounted.
const PagePrefix = "/agency/"

// AgencyPages serves the agency's queue as a server-rendered page (GET
// /agency/requests?state=…) with each request's signed form and result
// (GET /agency/requests/{id}/signed-form, …/result). authenticate finds
// the agency of a request (its API key as the bearer token, or its e-seal
// certificate by mutual TLS); without one the pages answer 401. The pages
// only read: decisions go through the API, where every agency action is
// authorised in one place.
//
// This is a minimal page of this package's own: the web package's layout
// lives under web/internal and cannot be imported from here.
func (s *Service) AgencyPages(authenticate func(*http.Request) (store.Agency, bool)) http.Handler {
	mux := http.NewServeMux()
	auth := func(h func(http.ResponseWriter, *http.Request, Principal)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; form-action 'self'")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.Header().Set("Referrer-Policy", "no-referrer")
			w.Header().Set("Cache-Control", "no-store")
			a, ok := authenticate(r)
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="thiqa agency"`)
				http.Error(w, "agency credentials required: API key or e-seal certificate", http.StatusUnauthorized)
				return
			}
			h(w, r, Principal{Agency: &a})
		}
	}
	mux.HandleFunc("GET /agency/requests", auth(s.queuePage))
	for _, which := range []string{DocSignedForm, DocResult} {
		mux.HandleFunc("GET /agency/requests/{id}/"+which, auth(func(w http.ResponseWriter, r *http.Request, by Principal) {
			b, name, err := s.Document(r.Context(), by, r.PathValue("id"), which)
			if err != nil {
				http.Error(w, pageError(err), pageStatus(err))
				return
			}
			w.Header().Set("Content-Type", "application/pdf")
			w.Header().Set("Content-Disposition", "attachment; filename=\""+name+"\"")
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b)
		}))
	}
	return mux
}

func pageStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrState):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// pageError is what a page shows of an error: the refusal, never an
// internal error's detail.
func pageError(err error) string {
	if pageStatus(err) == http.StatusInternalServerError {
		return "internal error"
	}
	return err.Error()
}

type queuePageData struct {
	Agency string
	State  string
	States []string
	Queue  Queue
}

func (s *Service) queuePage(w http.ResponseWriter, r *http.Request, by Principal) {
	state := r.URL.Query().Get("state")
	q, err := s.Queue(r.Context(), by, state, r.URL.Query().Get("after"), 0)
	if err != nil {
		http.Error(w, pageError(err), pageStatus(err))
		return
	}
	if state == "" {
		state = store.RequestSubmitted
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	queueTemplate.Execute(w, queuePageData{Agency: by.Agency.Name, State: state, States: QueueStates, Queue: q})
}

var queueTemplate = template.Must(template.New("queue").Parse(`<!doctype html>
<html lang="ar" dir="rtl">
<head><meta charset="utf-8"><title>طلبات الخدمات · Service requests — {{.Agency}}</title></head>
<body>
<h1>طلبات الخدمات · <span lang="en" dir="ltr">Service requests</span></h1>
<p>{{.Agency}}</p>
<nav><ul>{{range .States}}<li><a href="?state={{.}}"{{if eq . $.State}} aria-current="page"{{end}}>{{.}}</a></li>{{end}}</ul></nav>
<table>
<caption>{{.State}}: {{len .Queue.Requests}}</caption>
<thead><tr><th>الطلب · Request</th><th>الخدمة · Service</th><th>الرقم الوطني · National number</th><th>التاريخ · Opened</th><th>الرسوم · Fee (fils)</th><th>الوثائق · Documents</th></tr></thead>
<tbody>
{{range .Queue.Requests}}<tr id="r-{{.ID}}"><td dir="ltr">{{.ID}}</td><td dir="ltr">{{.Service}}</td><td dir="ltr">{{.NationalID}}</td><td dir="ltr">{{.Created.Format "2006-01-02 15:04"}}</td><td>{{.FeeFils}}</td>
<td>{{if or (eq .State "submitted") (eq .State "accepted") (eq .State "rejected")}}<a href="/agency/requests/{{.ID}}/signed-form">النموذج الموقّع · signed form</a>{{end}}{{if eq .State "accepted"}} · <a href="/agency/requests/{{.ID}}/result">النتيجة · result</a>{{end}}{{if .Reason}} · {{.Reason}}{{end}}</td></tr>
{{else}}<tr><td colspan="6">لا طلبات · No requests</td></tr>
{{end}}</tbody>
</table>
{{with .Queue.Next}}<p><a href="?state={{$.State}}&amp;after={{.}}">التالي · Next</a></p>{{end}}
</body>
</html>
`))
