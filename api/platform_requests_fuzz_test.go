package api

import (
	"encoding/json"
	"testing"
)

// FuzzServiceRequestBodies: any body sent to the service request
// endpoints (open, submit with a signed form, accept with a result,
// reject) is answered without a server error.
func FuzzServiceRequestBodies(f *testing.F) {
	e := newReqEnv(f)
	opened := e.open(f, e.laylaTok, "MOJ-RECORD")
	submitted := e.submitted(f, "MOJ-RECORD")
	form := e.pdf(f, "/api/v1/service-requests/"+opened.ID+"/form", e.laylaTok)
	signed, _ := json.Marshal(map[string]any{"signed_form": append(form, "%%EOF\n"...)})
	result, _ := json.Marshal(map[string]any{"result": form, "note": "ok"})
	for _, s := range []string{`{"service":"MOJ-RECORD"}`, `{"service":""}`, `{}`, `null`, `[]`, string(signed), string(result),
		`{"reason":"incomplete"}`, `{"signed_form":"JVBERi0="}`, `{"result":"JVBERi0xLjcK","note":"\u0000"}`} {
		for route := range 4 {
			f.Add(uint8(route), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, raw []byte) {
		var method, path, tok string
		switch route % 4 {
		case 0:
			method, path, tok = "POST", "/api/v1/service-requests", e.laylaTok
		case 1:
			method, path, tok = "POST", "/api/v1/service-requests/"+opened.ID+"/submit", e.laylaTok
		case 2:
			method, path, tok = "POST", "/api/v1/service-requests/"+submitted.ID+"/reject", e.moj.Key
		case 3:
			method, path, tok = "POST", "/api/v1/service-requests/"+submitted.ID+"/accept", e.moj.Key
		}
		if rec := e.call(t, method, path, tok, string(raw), nil); rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s for %q", method, path, rec.Code, rec.Body, raw)
		}
	})
}
