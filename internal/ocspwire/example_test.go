package ocspwire_test

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/thiqa/thiqa/internal/ocspwire"
)

// Example shows an OCSP responder handler: read and parse the request, look
// the certificate up, answer with x/crypto/ocsp echoing the nonce.
func Example() {
	var (
		issuer, responderCert *x509.Certificate // the CA and its OCSP signer
		responderKey          crypto.Signer
		status                func(*ocspwire.Request) int // ocsp.Good, ocsp.Revoked, ...
	)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		der, err := ocspwire.ReadRequest(r, "/ocsp/", 0)
		if err != nil {
			http.Error(w, err.Error(), ocspwire.HTTPStatus(err))
			return
		}
		req, err := ocspwire.ParseRequest(der)
		if err != nil {
			w.Header().Set("Content-Type", ocspwire.ContentTypeResponse)
			_, _ = w.Write(ocsp.MalformedRequestErrorResponse)
			return
		}
		tmpl := ocsp.Response{
			Status:       status(req),
			SerialNumber: req.SerialNumber,
			ThisUpdate:   time.Now(),
			NextUpdate:   time.Now().Add(time.Hour),
			Certificate:  responderCert,
		}
		if req.Nonce != nil {
			tmpl.ExtraExtensions = []pkix.Extension{ocspwire.NonceExtension(req.Nonce)}
		}
		resp, err := ocsp.CreateResponse(issuer, responderCert, tmpl, responderKey)
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ocspwire.ContentTypeResponse)
		_, _ = w.Write(resp)
	})
	mux := http.NewServeMux()
	_ = http.Server{Handler: ocspwire.Mount("/ocsp/", handler, mux)}
}
