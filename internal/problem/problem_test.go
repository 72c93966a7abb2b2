package problem

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, http.StatusRequestEntityTooLarge, "too-large", "body over 4096 bytes")
	if rec.Code != 413 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var d Details
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	want := Details{Type: TypeBase + "too-large", Title: "Request Entity Too Large", Status: 413, Detail: "body over 4096 bytes"}
	if d != want {
		t.Fatalf("problem = %+v, want %+v", d, want)
	}
}
