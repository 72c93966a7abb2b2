package api

// Deps are the services the API serves. Each part of the API adds the
// interface it needs here (declared where it is used, in its own file) as a
// field; internal/node fills them in.
type Deps struct {
	Enrollment EnrollmentService // api/enrollment.go
	Signing    SigningService    // api/signing.go
	CSC        CSCService        // api/csc.go
	Verifier   Verifier          // api/verify.go
	Requests   RequestsService   // api/platform_requests.go
	Catalogue  CatalogueService  // api/platform_catalogue.go
	Payments   PaymentsService   // api/platform_payments.go
}
