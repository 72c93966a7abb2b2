package ocspwire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestReadRequest(t *testing.T) {
	der := readTestdata(t, "sha1-nonce.der")
	// Bytes whose base64 holds '+', '/' and padding.
	odd := []byte{0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff, 0x01}
	oddB64 := base64.StdEncoding.EncodeToString(odd)
	if !strings.ContainsAny(oddB64, "+") || !strings.Contains(oddB64, "/") || !strings.HasSuffix(oddB64, "=") {
		t.Fatalf("test bytes encode to %q", oddB64)
	}
	tests := []struct {
		name    string
		method  string
		target  string
		ctype   string
		body    []byte
		limit   int64
		want    []byte
		wantErr error
	}{
		{name: "post", method: http.MethodPost, target: "/ocsp", ctype: ContentTypeRequest, body: der, want: der},
		{name: "post with parameter", method: http.MethodPost, target: "/ocsp/", ctype: ContentTypeRequest + "; foo=bar", body: der, want: der},
		{name: "post wrong type", method: http.MethodPost, target: "/ocsp/", ctype: "application/octet-stream", body: der, wantErr: ErrContentType},
		{name: "post no type", method: http.MethodPost, target: "/ocsp/", body: der, wantErr: ErrContentType},
		{name: "post too large", method: http.MethodPost, target: "/ocsp/", ctype: ContentTypeRequest, body: der, limit: int64(len(der) - 1), wantErr: ErrTooLarge},
		{name: "post at limit", method: http.MethodPost, target: "/ocsp/", ctype: ContentTypeRequest, body: der, limit: int64(len(der)), want: der},
		{name: "get escaped", method: http.MethodGet, target: "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(der)), want: der},
		{name: "get odd escaped", method: http.MethodGet, target: "/ocsp/" + url.PathEscape(oddB64), want: odd},
		{name: "get odd query-escaped", method: http.MethodGet, target: "/ocsp/" + url.QueryEscape(oddB64), want: odd},
		{name: "get odd raw", method: http.MethodGet, target: "/ocsp/" + oddB64, want: odd},
		{name: "get odd unpadded", method: http.MethodGet, target: "/ocsp/" + strings.TrimRight(oddB64, "="), want: odd},
		{name: "get odd slash escaped only", method: http.MethodGet, target: "/ocsp/" + strings.ReplaceAll(oddB64, "/", "%2F"), want: odd},
		{name: "get plus as space", method: http.MethodGet, target: "/ocsp/" + strings.ReplaceAll(oddB64, "+", "%20"), want: odd},
		{name: "get other prefix", method: http.MethodGet, target: "/other/" + oddB64, wantErr: ErrBadEncoding},
		{name: "get empty", method: http.MethodGet, target: "/ocsp/", wantErr: ErrBadEncoding},
		{name: "get not base64", method: http.MethodGet, target: "/ocsp/!!!!", wantErr: ErrBadEncoding},
		{name: "get bad escape", method: http.MethodGet, target: "/ocsp/%25zz", wantErr: ErrBadEncoding},
		{name: "get url-safe alphabet", method: http.MethodGet, target: "/ocsp/" + base64.URLEncoding.EncodeToString(odd), wantErr: ErrBadEncoding},
		{name: "get too large", method: http.MethodGet, target: "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(der)), limit: 10, wantErr: ErrTooLarge},
		{name: "put", method: http.MethodPut, target: "/ocsp/", ctype: ContentTypeRequest, body: der, wantErr: ErrMethodNotAllowed},
		{name: "head", method: http.MethodHead, target: "/ocsp/", wantErr: ErrMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != nil {
				body = bytes.NewReader(tc.body)
			}
			r := httptest.NewRequest(tc.method, tc.target, body)
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			got, err := ReadRequest(r, "/ocsp/", tc.limit)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("got %x, want %x", got, tc.want)
			}
		})
	}
}

// TestReadRequestServer sends GET and POST requests through a real HTTP
// server on 127.0.0.1, so that the path reaches the handler as a client
// writes it.
func TestReadRequestServer(t *testing.T) {
	der := readTestdata(t, "sha256-nonce.der")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := ReadRequest(r, "/ocsp/", 0)
		if err != nil {
			http.Error(w, err.Error(), HTTPStatus(err))
			return
		}
		if _, err := ParseRequest(got); err != nil {
			http.Error(w, err.Error(), HTTPStatus(err))
			return
		}
		_, _ = w.Write(got)
	}))
	defer srv.Close()
	check := func(t *testing.T, res *http.Response, err error, wantStatus int) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != wantStatus {
			t.Fatalf("status %d, want %d: %s", res.StatusCode, wantStatus, b)
		}
		if wantStatus == http.StatusOK && !bytes.Equal(b, der) {
			t.Fatalf("echoed %x, want %x", b, der)
		}
	}
	t.Run("get", func(t *testing.T) {
		res, err := http.Get(srv.URL + "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(der)))
		check(t, res, err, http.StatusOK)
	})
	t.Run("post", func(t *testing.T) {
		res, err := http.Post(srv.URL+"/ocsp/", ContentTypeRequest, bytes.NewReader(der))
		check(t, res, err, http.StatusOK)
	})
	t.Run("post wrong type", func(t *testing.T) {
		res, err := http.Post(srv.URL+"/ocsp/", "text/plain", bytes.NewReader(der))
		check(t, res, err, http.StatusUnsupportedMediaType)
	})
	t.Run("delete", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/ocsp/", nil)
		res, err := http.DefaultClient.Do(req)
		check(t, res, err, http.StatusMethodNotAllowed)
	})
	t.Run("post malformed", func(t *testing.T) {
		res, err := http.Post(srv.URL+"/ocsp/", ContentTypeRequest, strings.NewReader("junk"))
		check(t, res, err, http.StatusBadRequest)
	})
}

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{ErrMethodNotAllowed, 405},
		{ErrContentType, 415},
		{ErrTooLarge, 413},
		{ErrBadEncoding, 400},
		{ErrMalformed, 400},
		{ErrUnsupported, 400},
		{errors.New("other"), 500},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			if got := HTTPStatus(tc.err); got != tc.want {
				t.Errorf("HTTPStatus = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestMount(t *testing.T) {
	odd := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} // "////////"
	ocspHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		der, err := ReadRequest(r, "/ocsp", 0)
		if err != nil {
			http.Error(w, err.Error(), HTTPStatus(err))
			return
		}
		_, _ = w.Write(der)
	})
	mux := http.NewServeMux()
	mux.Handle("/ocsp/", ocspHandler)
	mux.HandleFunc("/other", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("other")) })
	tests := []struct {
		name       string
		h          http.Handler
		target     string
		wantStatus int
		wantBody   []byte
	}{
		{"mux alone redirects", mux, "/ocsp/" + base64.StdEncoding.EncodeToString(odd), http.StatusTemporaryRedirect, nil},
		{"mounted", Mount("/ocsp/", ocspHandler, mux), "/ocsp/" + base64.StdEncoding.EncodeToString(odd), http.StatusOK, odd},
		{"mounted without slash", Mount("/ocsp", ocspHandler, mux), "/ocsp/" + base64.StdEncoding.EncodeToString(odd), http.StatusOK, odd},
		{"mounted escaped", Mount("/ocsp/", ocspHandler, mux), "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(odd)), http.StatusOK, odd},
		{"others go to next", Mount("/ocsp/", ocspHandler, mux), "/other", http.StatusOK, []byte("other")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tc.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.target, nil))
			if w.Code != tc.wantStatus || tc.wantBody != nil && !bytes.Equal(w.Body.Bytes(), tc.wantBody) {
				t.Errorf("status %d body %q, want %d %q", w.Code, w.Body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}
