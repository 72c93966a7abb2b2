package ca

import (
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/thiqa/thiqa/internal/ocspwire"
	"github.com/thiqa/thiqa/internal/problem"
	"github.com/thiqa/thiqa/internal/tsp"
)

// Handler serves the public endpoints every relying party may call, without
// authentication:
//
//	GET  /ca/{name}.cer, /ca/{name}.pem   authority certificates (DER, PEM)
//	GET  /ca/bundle.pem                    every CA certificate, root last
//	GET  /crl/{name}.crl, /crl/{name}.pem  latest CRL of a CA
//	POST /ocsp, GET /ocsp/{base64}         OCSP (RFC 6960)
//	POST /tsa                              time-stamping (RFC 3161)
//	GET  /pds/en, /pds/ar                  PKI disclosure statements
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ca/{file}", s.serveCACert)
	mux.HandleFunc("GET /crl/{file}", s.serveCRL)
	mux.Handle("/tsa", s.tsa)
	mux.HandleFunc("GET /pds/{lang}", s.servePDS)
	// OCSP goes around the mux, which would redirect GET requests whose
	// unescaped base64 holds "//". A server that puts this handler under
	// its own mux must do the same (see [OCSPPath]).
	return ocspwire.Mount(OCSPPath, s.ocsp, mux)
}

// OCSPPath is where the OCSP responder is served: POST to it, or GET
// OCSPPath + "/" + base64 request.
const OCSPPath = "/ocsp"

func splitFile(file string) (name, ext string, ok bool) {
	i := strings.LastIndexByte(file, '.')
	if i <= 0 {
		return "", "", false
	}
	return file[:i], file[i+1:], true
}

func (s *Service) serveCACert(w http.ResponseWriter, r *http.Request) {
	name, ext, ok := splitFile(r.PathValue("file"))
	if ok && name == "bundle" && ext == "pem" {
		var b []byte
		for _, name := range append(append([]string{}, IssuingCAs...), Root) {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.auth[name].cert.Raw})...)
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(b)
		return
	}
	a, found := s.auth[name]
	if !ok || !found {
		problem.Write(w, http.StatusNotFound, "not-found", "no such authority certificate")
		return
	}
	writeDERorPEM(w, ext, "CERTIFICATE", "application/pkix-cert", a.cert.Raw)
}

func (s *Service) serveCRL(w http.ResponseWriter, r *http.Request) {
	name, ext, ok := splitFile(r.PathValue("file"))
	if !ok {
		problem.Write(w, http.StatusNotFound, "not-found", "no such CRL")
		return
	}
	crl, err := s.CRL(r.Context(), name)
	if errors.Is(err, ErrNotFound) {
		problem.Write(w, http.StatusNotFound, "not-found", "no such CRL")
		return
	}
	if err != nil {
		problem.Write(w, http.StatusInternalServerError, "internal", "the CRL could not be produced")
		return
	}
	w.Header().Set("Last-Modified", crl.ThisUpdate.Format(http.TimeFormat))
	w.Header().Set("Expires", crl.NextUpdate.Format(http.TimeFormat))
	writeDERorPEM(w, ext, "X509 CRL", "application/pkix-crl", crl.DER)
}

func writeDERorPEM(w http.ResponseWriter, ext, pemType, derType string, der []byte) {
	switch ext {
	case "cer", "crt", "crl", "der":
		w.Header().Set("Content-Type", derType)
		w.Write(der)
	case "pem":
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}))
	default:
		problem.Write(w, http.StatusNotFound, "not-found", "unknown format ."+ext+" (use .cer/.crl for DER or .pem)")
	}
}

func (s *Service) servePDS(w http.ResponseWriter, r *http.Request) {
	var text string
	switch r.PathValue("lang") {
	case "en":
		text = fmt.Sprintf("%s PKI Disclosure Statement\n\nCertificates are issued to natural persons after an in-person identity check at a service centre, and to government agencies as electronic seals. QC statements in these certificates refer to the legislation of %s only; they make no claim under EU Regulation 910/2014.\nRevocation status: %s (OCSP), CRLs at %s/crl/.\n", s.cfg.Organization, s.cfg.Country, s.cfg.url("/ocsp"), s.cfg.PublicURL)
	case "ar":
		text = fmt.Sprintf("بيان الإفصاح للبنية التحتية للمفاتيح العامة — %s\n\nتصدر الشهادات للأشخاص الطبيعيين بعد التحقق من الهوية حضورياً في مركز الخدمة، وللجهات الحكومية كأختام إلكترونية. تشير بيانات الشهادة المؤهلة إلى تشريعات %s فقط.\nحالة الإلغاء: %s\n", s.cfg.Organization, s.cfg.Country, s.cfg.url("/ocsp"))
	default:
		problem.Write(w, http.StatusNotFound, "not-found", "PKI disclosure statements exist in en and ar")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(text))
}

// writeOCSPReadError reports an HTTP-level failure to read an OCSP request.
func writeOCSPReadError(w http.ResponseWriter, err error) {
	status := ocspwire.HTTPStatus(err)
	slug := map[int]string{
		http.StatusMethodNotAllowed:      "method-not-allowed",
		http.StatusUnsupportedMediaType:  "unsupported-media-type",
		http.StatusRequestEntityTooLarge: "too-large",
		http.StatusBadRequest:            "bad-ocsp-request",
	}[status]
	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "GET, POST")
	}
	if slug == "" {
		slug = "internal"
	}
	problem.Write(w, status, slug, err.Error())
}

var _ http.Handler = (*tsp.Authority)(nil)
