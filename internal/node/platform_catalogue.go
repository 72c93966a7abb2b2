package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/thiqa/thiqa/platform/catalogue"
)

// catalogueAdmin serves the platform's admin commands on the admin socket,
// so that they work while thiqa serve holds the store: POST
// /catalogue/import?format=csv|jsonl with the file as the body answers the
// changes as JSON; GET /catalogue/export?format=… the file; GET
// /payments/reconciliation the reconciliation report. Errors are plain
// text: 400 for a bad file (with its line numbers).
func (n *Node) catalogueAdmin() http.Handler {
	mux := http.NewServeMux()
	c := n.catalogue()
	mux.HandleFunc("POST /catalogue/import", func(w http.ResponseWriter, r *http.Request) {
		f, err := catalogue.ParseFormat(r.URL.Query().Get("format"))
		if err == nil && c == nil {
			err = errors.New("this store keeps no catalogue")
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ch, err := c.Import(r.Context(), http.MaxBytesReader(w, r.Body, 64<<20), f, catalogue.DecodeOptions{})
		if err != nil {
			status := http.StatusInternalServerError
			var mbe *http.MaxBytesError
			if errors.Is(err, catalogue.ErrInvalid) || errors.As(err, &mbe) {
				status = http.StatusBadRequest
			}
			http.Error(w, err.Error(), status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(ch)
	})
	mux.HandleFunc("GET /payments/reconciliation", func(w http.ResponseWriter, r *http.Request) {
		if n.Payments == nil {
			http.Error(w, "thiqa serve runs without a payment gateway (--payments-gateway)", http.StatusServiceUnavailable)
			return
		}
		rep, err := n.Payments.Reconcile(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rep)
	})
	mux.HandleFunc("GET /catalogue/export", func(w http.ResponseWriter, r *http.Request) {
		f, err := catalogue.ParseFormat(r.URL.Query().Get("format"))
		if err == nil && c == nil {
			err = errors.New("this store keeps no catalogue")
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var buf bytes.Buffer
		if err := c.Export(r.Context(), &buf, f); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(buf.Bytes())
	})
	return mux
}
