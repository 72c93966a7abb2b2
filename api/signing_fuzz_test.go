package api

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// fuzzSignEnv is a signing environment with a citizen, an agency and a
// pending request.
type fuzzSignEnv struct {
	*signEnv
	tok, agKey, reqID string
}

func newFuzzSignEnv(f *testing.F) *fuzzSignEnv {
	f.Helper()
	e := newSignEnv(f)
	admin := e.officer(f, "", "root", store.RoleAdmin)
	off := e.officer(f, admin, "omar", store.RoleOfficer)
	_, tok := e.citizen(f, off, "9861234567")
	ag := e.agency(f, "Fuzz Agency", signing.ScopeSignRequests)
	var v signing.RequestView
	body := signing.NewRequest{NationalID: "9861234567", PurposeAr: "غرض", PurposeEn: "Purpose", Documents: threeDocuments(f)[2:]}
	if rec := e.call(f, "POST", "/api/v1/sign-requests", ag.Key, body, &v); rec.Code != 201 {
		f.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	return &fuzzSignEnv{signEnv: e, tok: tok, agKey: ag.Key, reqID: v.ID}
}

// FuzzCreateSignRequest: any body sent to create a sign request is
// answered without a server error.
func FuzzCreateSignRequest(f *testing.F) {
	e := newFuzzSignEnv(f)
	real, _ := json.Marshal(signing.NewRequest{NationalID: "9861234567", PurposeAr: "غرض", PurposeEn: "Purpose", Documents: threeDocuments(f)[2:]})
	for _, s := range []string{string(real), `{}`, `{"documents":[{"name":"a.pdf","content":"JVBERi0="}]}`, `{"national_id":"٩٨٦١٢٣٤٥٦٧","purpose_ar":"x","purpose_en":"y","documents":[{"name":"a","content":"JVBERi0xLjcK","level":"B-LTA","visible":true}]}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if rec := e.call(t, "POST", "/api/v1/sign-requests", e.agKey, string(raw), nil); rec.Code >= 500 {
			t.Fatalf("%d %s for %q", rec.Code, rec.Body, raw)
		}
	})
}

// FuzzApprovalFinish: any WebAuthn response to an approval is refused
// without a server error and without a signature.
func FuzzApprovalFinish(f *testing.F) {
	e := newFuzzSignEnv(f)
	c, _ := e.begin(f, e.tok, e.reqID)
	for _, s := range []string{`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA"}}`, `{}`, `null`, `"x"`} {
		f.Add(c.CeremonyID, []byte(s))
	}
	f.Fuzz(func(t *testing.T, ceremony string, cred []byte) {
		body, _ := json.Marshal(map[string]any{"ceremony_id": ceremony, "credential": json.RawMessage(cred)})
		if !json.Valid(cred) {
			body = []byte(`{"ceremony_id":` + strings.Repeat(" ", 1) + `"x","credential":` + string(cred) + `}`)
		}
		if rec := e.call(t, "POST", "/api/v1/sign-requests/"+e.reqID+"/approval/finish", e.tok, string(body), nil); rec.Code >= 500 || rec.Code == 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		if e.signs.Load() != 0 {
			t.Fatal("something was signed")
		}
	})
}

// FuzzCSC: any body sent to a CSC method is answered without a server
// error and without a signature.
func FuzzCSC(f *testing.F) {
	e := newFuzzSignEnv(f)
	methods := []string{"info", "credentials/list", "credentials/info", "credentials/authorize", "credentials/authorizeCheck",
		"credentials/extendTransaction", "signatures/signHash", "signatures/timestamp"}
	seeds := []string{`{}`, `{"credentialID":"1","numSignatures":1,"hashes":["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1"}`,
		`{"credentialID":"1","SAD":"a.b","hash":["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],"hashAlgo":"2.16.840.1.101.3.4.2.1","signAlgo":"1.2.840.10045.4.3.2"}`,
		`{"hash":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}`, `{"certificates":"chain","certInfo":true,"authInfo":true,"credentialInfo":true}`, `[]`}
	for i := range methods {
		f.Add(uint8(i), []byte(seeds[i%len(seeds)]))
	}
	f.Fuzz(func(t *testing.T, m uint8, raw []byte) {
		method := methods[int(m)%len(methods)]
		req := httptest.NewRequest("POST", "/csc/v2/"+method, strings.NewReader(string(raw)))
		req.Header.Set("Authorization", "Bearer "+e.tok)
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s: %d %s for %q", method, rec.Code, rec.Body, raw)
		}
		if e.signs.Load() != 0 {
			t.Fatal("something was signed")
		}
	})
}

// TestWebhook: the agency is notified of the outcome with an HMAC over
// the timestamp and the body.
func TestWebhook(t *testing.T) {
	e := newSignEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	ph, tok := e.citizen(t, off, "9861234567")
	got := make(chan *http.Request, 4)
	bodies := make(chan []byte, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	defer hook.Close()
	k, err := e.signing.AddAgency(context.Background(), signing.NewAgency{Name: "Hooked", Scopes: []string{signing.ScopeSignRequests}, WebhookURL: hook.URL})
	if err != nil {
		t.Fatal(err)
	}
	var v signing.RequestView
	body := signing.NewRequest{NationalID: "9861234567", PurposeAr: "غرض", PurposeEn: "Purpose", Documents: threeDocuments(t)[2:]}
	if rec := e.call(t, "POST", "/api/v1/sign-requests", k.Key, body, &v); rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if code, out := e.approve(t, ph, tok, v.ID); code != 200 {
		t.Fatalf("approve: %d %s", code, out)
	}
	e.signing.Wait()
	r, b := <-got, <-bodies
	var w signing.Webhook
	if err := json.Unmarshal(b, &w); err != nil || w.RequestID != v.ID || w.State != store.SignSigned || w.Event != "sign-request.signed" {
		t.Fatalf("webhook %s: %v", b, err)
	}
	want := signing.WebhookSignature([]byte(k.WebhookSecret), r.Header.Get("X-Thiqa-Timestamp"), b)
	if !hmac.Equal([]byte(r.Header.Get("X-Thiqa-Signature")), []byte(want)) {
		t.Errorf("signature %q, want %q", r.Header.Get("X-Thiqa-Signature"), want)
	}
}
