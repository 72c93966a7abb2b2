package audit

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Handler serves the log's public endpoints (see the package doc). Proofs
// are JSON with hashes in base64; a size left out means the latest
// checkpoint's. Nothing here reveals records or details.
func (l *Log) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /audit/checkpoint", l.serveCheckpoint)
	mux.HandleFunc("GET /audit/key", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, l.Verifier().Key())
	})
	mux.HandleFunc("GET /audit/proof/inclusion", l.serveInclusion)
	mux.HandleFunc("GET /audit/proof/consistency", l.serveConsistency)
	return mux
}

func (l *Log) serveCheckpoint(w http.ResponseWriter, r *http.Request) {
	c, err := l.Latest(r.Context())
	if err != nil {
		httpError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(c.Note)
}

func (l *Log) serveInclusion(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, err := l.sizeParam(r, "size")
	if err != nil {
		httpError(w, err)
		return
	}
	var p InclusionProof
	switch {
	case q.Has("index") == q.Has("hash"):
		err = fmt.Errorf("%w: give index or hash", errBadParam)
	case q.Has("index"):
		var i uint64
		if i, err = uintParam(q.Get("index")); err == nil {
			p, err = l.InclusionProof(r.Context(), i, size)
		}
	default:
		var h []byte
		if h, err = hashParam(q.Get("hash")); err == nil {
			p, err = l.InclusionProofByHash(r.Context(), h, size)
		}
	}
	if err != nil {
		httpError(w, err)
		return
	}
	writeJSON(w, p)
}

func (l *Log) serveConsistency(w http.ResponseWriter, r *http.Request) {
	from, err := uintParam(r.URL.Query().Get("from"))
	if err != nil {
		httpError(w, err)
		return
	}
	to, err := l.sizeParam(r, "to")
	if err != nil {
		httpError(w, err)
		return
	}
	p, err := l.ConsistencyProof(r.Context(), from, to)
	if err != nil {
		httpError(w, err)
		return
	}
	writeJSON(w, p)
}

var errBadParam = errors.New("audit: bad query parameter")

func (l *Log) sizeParam(r *http.Request, name string) (uint64, error) {
	if v := r.URL.Query().Get(name); v != "" {
		return uintParam(v)
	}
	c, err := l.Latest(r.Context())
	if err != nil {
		return 0, err
	}
	return c.Size, nil
}

func uintParam(v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a number", errBadParam, v)
	}
	return n, nil
}

func hashParam(v string) ([]byte, error) {
	h, err := hex.DecodeString(v)
	if err != nil {
		h, err = base64.StdEncoding.DecodeString(v)
	}
	if err != nil || len(h) != 32 {
		return nil, fmt.Errorf("%w: hash %q is not 32 bytes in hex or base64", errBadParam, v)
	}
	return h, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	msg := "internal error"
	switch {
	case errors.Is(err, errBadParam), errors.Is(err, ErrOutOfRange):
		code, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, ErrNoCheckpoint):
		code, msg = http.StatusNotFound, err.Error()
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"status": code, "title": http.StatusText(code), "detail": msg})
}

// VerifyResult is the JSON answer of [Log.VerifyHandler].
type VerifyResult struct {
	OK          bool            `json:"ok"`
	Records     uint64          `json:"records"`
	Checkpoints int             `json:"checkpoints"`
	LatestSize  uint64          `json:"latest_size"`
	LatestRoot  []byte          `json:"latest_root,omitempty"`
	LatestTime  string          `json:"latest_time,omitempty"`
	Problem     *IntegrityError `json:"problem,omitempty"`
}

// VerifyHandler runs [VerifyLive] on the log and answers a VerifyResult
// (200 whether or not the log verifies; 500 when it cannot be read). The
// optional query parameter key is a verifier key to check checkpoints with
// instead of the log's own. It reads the whole log: serve it only to
// operators (the admin socket), never publicly.
func (l *Log) VerifyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := l.Verifier()
		if k := r.URL.Query().Get("key"); k != "" {
			var err error
			if v, err = ParseVerifierKey(k); err != nil {
				httpError(w, fmt.Errorf("%w: %w", errBadParam, err))
				return
			}
		}
		rep, err := VerifyLive(r.Context(), l.st, v)
		var ie *IntegrityError
		if err != nil && !errors.As(err, &ie) {
			httpError(w, err)
			return
		}
		res := VerifyResult{OK: err == nil, Records: rep.Records, Checkpoints: rep.Checkpoints, Problem: ie}
		if c := rep.Latest; c != nil {
			res.LatestSize, res.LatestRoot, res.LatestTime = c.Size, c.Root, c.Time.UTC().Format("2006-01-02T15:04:05Z")
		}
		writeJSON(w, res)
	})
}
