package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/internal/problem"
)

func TestBasics(t *testing.T) {
	s := New(Deps{}, Options{MaxBody: 16})
	s.mux.HandleFunc("POST /api/v1/echo", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]string
		if err := decodeJSON(r, &v); err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, 200, v)
	})
	s.mux.HandleFunc("GET /api/v1/boom", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	s.mux.HandleFunc("GET /api/v1/internal", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, fmt.Errorf("db password is hunter2: %w", errors.New("x")))
	})
	for _, tc := range []struct {
		method, path, body string
		status             int
		slug               string
	}{
		{"GET", "/api/v1/nothing", "", 404, "not-found"},
		{"POST", "/api/v1/echo", `{"a":"b"}`, 200, ""},
		{"POST", "/api/v1/echo", `{"a":"b"} x`, 400, "bad-request"},
		{"POST", "/api/v1/echo", `{"a":"0123456789abcdef"}`, 413, "too-large"},
		{"GET", "/api/v1/boom", "", 500, "internal"},
		{"GET", "/api/v1/internal", "", 500, "internal"},
	} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
		if rec.Code != tc.status || rec.Header().Get("X-Request-Id") == "" {
			t.Errorf("%s %s: %d (request id %q), want %d", tc.method, tc.path, rec.Code, rec.Header().Get("X-Request-Id"), tc.status)
		}
		if tc.slug == "" {
			continue
		}
		var p problem.Details
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Type != problem.TypeBase+tc.slug || p.Status != tc.status {
			t.Errorf("%s %s: problem %+v, %v", tc.method, tc.path, p, err)
		}
		if strings.Contains(p.Detail, "hunter2") {
			t.Errorf("internal error detail leaked: %q", p.Detail)
		}
	}
}
