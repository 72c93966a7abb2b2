package api

import (
	"testing"

	"github.com/thiqa/thiqa/platform/requests"
)

// BenchmarkServiceRequest measures the service request operations through
// the HTTP handler on the embedded store: opening (form PDF, sign request,
// invoice), submitting (fetching the signed form and validating it) and
// accepting (writing the decision and sealing it with the agency's e-seal
// at B-LT). Approvals are made outside the timer.
func BenchmarkServiceRequest(b *testing.B) {
	e := newReqEnv(b)
	b.Run("Open", func(b *testing.B) {
		for b.Loop() {
			e.open(b, e.laylaTok, "MOI-PASSPORT")
		}
	})
	b.Run("Submit", func(b *testing.B) {
		vs := make([]requests.View, b.N)
		for i := range vs {
			vs[i] = e.open(b, e.laylaTok, "MOI-PASSPORT")
			e.pay.pay(vs[i].Invoice)
			e.signForm(b, e.layla, e.laylaTok, vs[i])
		}
		b.ResetTimer()
		for i := range b.N {
			if rec := e.call(b, "POST", "/api/v1/service-requests/"+vs[i].ID+"/submit", e.laylaTok, nil, nil); rec.Code != 200 {
				b.Fatalf("submit: %d %s", rec.Code, rec.Body)
			}
		}
	})
	b.Run("Accept", func(b *testing.B) {
		vs := make([]requests.View, b.N)
		for i := range vs {
			vs[i] = e.submitted(b, "MOI-PASSPORT")
		}
		b.ResetTimer()
		for i := range b.N {
			if rec := e.call(b, "POST", "/api/v1/service-requests/"+vs[i].ID+"/accept", e.moi.Key, map[string]string{"note": "ok"}, nil); rec.Code != 200 {
				b.Fatalf("accept: %d %s", rec.Code, rec.Body)
			}
		}
	})
	b.Run("Queue", func(b *testing.B) {
		for b.Loop() {
			if rec := e.call(b, "GET", "/api/v1/agency/service-requests?limit=100", e.moi.Key, nil, nil); rec.Code != 200 {
				b.Fatalf("queue: %d %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkForm measures writing the application form.
func BenchmarkForm(b *testing.B) {
	d := requests.FormData{RequestID: "Zm9ybS10ZXN0", ServiceCode: "MOI-PASSPORT", ServiceNameEn: "Passport renewal",
		AgencyName: "MOI", GivenName: "Layla", Surname: "Haddad", GivenNameAr: "ليلى", SurnameAr: "حداد", NationalID: "9861234567", FeeFils: 20000}
	for b.Loop() {
		requests.Form(d)
	}
}
