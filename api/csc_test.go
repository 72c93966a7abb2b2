package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// cscClient is a conformance client of the CSC API v2.0.0.2, written from
// the specification: JSON over POST, base64 hashes and signatures, CSC
// error objects.
type cscClient struct {
	base  string
	token string
	http  *http.Client
}

// cscStatusError is a CSC error answer.
type cscStatusError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *cscStatusError) Error() string {
	return fmt.Sprintf("csc: %d %s: %s", e.Status, e.Code, e.Description)
}

// call posts req to method and decodes the answer into out; it returns the
// HTTP status.
func (c *cscClient) call(method string, req, out any) (int, error) {
	raw, err := json.Marshal(req)
	if err != nil {
		return 0, err
	}
	hr, err := http.NewRequest("POST", c.base+"/csc/v2/"+method, bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	hr.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		e := &cscStatusError{Status: resp.StatusCode}
		if err := json.NewDecoder(resp.Body).Decode(e); err != nil || e.Code == "" {
			return resp.StatusCode, fmt.Errorf("csc %s: %d without a CSC error object", method, resp.StatusCode)
		}
		return resp.StatusCode, e
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("csc %s: %w", method, err)
		}
	}
	return resp.StatusCode, nil
}

type cscInfo struct {
	Specs   string   `json:"specs"`
	Name    string   `json:"name"`
	Methods []string `json:"methods"`
}

type cscCredentialInfo struct {
	Key struct {
		Status string   `json:"status"`
		Algo   []string `json:"algo"`
		Len    int      `json:"len"`
	} `json:"key"`
	Cert struct {
		Status       string   `json:"status"`
		Certificates []string `json:"certificates"`
		SerialNumber string   `json:"serialNumber"`
	} `json:"cert"`
	SCAL      string `json:"SCAL"`
	Multisign int    `json:"multisign"`
}

func (c *cscClient) list() ([]string, error) {
	var out struct {
		CredentialIDs []string `json:"credentialIDs"`
	}
	_, err := c.call("credentials/list", map[string]any{}, &out)
	return out.CredentialIDs, err
}

func (c *cscClient) credentialInfo(id string) (cscCredentialInfo, error) {
	var out cscCredentialInfo
	_, err := c.call("credentials/info", map[string]any{"credentialID": id, "certificates": "chain", "certInfo": true, "authInfo": true}, &out)
	return out, err
}

// authorize fixes the hashes; with v1 it uses the v1 member names.
func (c *cscClient) authorize(id string, hashes [][]byte, v1 bool) (string, error) {
	req := map[string]any{"credentialID": id, "numSignatures": len(hashes)}
	if v1 {
		req["hash"], req["hashAlgo"] = b64s(hashes), "2.16.840.1.101.3.4.2.1"
	} else {
		req["hashes"], req["hashAlgorithmOID"] = b64s(hashes), "2.16.840.1.101.3.4.2.1"
	}
	var out struct {
		AuthorizationID string `json:"authorizationID"`
	}
	status, err := c.call("credentials/authorize", req, &out)
	if err == nil && status != http.StatusAccepted {
		err = fmt.Errorf("authorize: status %d, want 202", status)
	}
	return out.AuthorizationID, err
}

// authorizeCheck returns the SAD, or "" while the citizen has not approved.
func (c *cscClient) authorizeCheck(id, authID string) (string, error) {
	var out struct {
		SAD       string `json:"SAD"`
		ExpiresIn int    `json:"expiresIn"`
	}
	status, err := c.call("credentials/authorizeCheck", map[string]any{"credentialID": id, "authorizationID": authID}, &out)
	if status == http.StatusAccepted {
		return "", err
	}
	return out.SAD, err
}

func (c *cscClient) signHash(id, sad string, hashes [][]byte, v1 bool) ([][]byte, error) {
	req := map[string]any{"credentialID": id, "SAD": sad, "signAlgo": "1.2.840.10045.4.3.2"}
	if v1 {
		req["hash"], req["hashAlgo"] = b64s(hashes), "2.16.840.1.101.3.4.2.1"
	} else {
		req["hashes"], req["hashAlgorithmOID"] = b64s(hashes), "2.16.840.1.101.3.4.2.1"
	}
	var out struct {
		Signatures []string `json:"signatures"`
	}
	if _, err := c.call("signatures/signHash", req, &out); err != nil {
		return nil, err
	}
	sigs := make([][]byte, len(out.Signatures))
	for i, s := range out.Signatures {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, err
		}
		sigs[i] = b
	}
	return sigs, nil
}

func (c *cscClient) extend(id, sad string) (string, error) {
	var out struct {
		SAD string `json:"SAD"`
	}
	_, err := c.call("credentials/extendTransaction", map[string]any{"credentialID": id, "SAD": sad}, &out)
	return out.SAD, err
}

func b64s(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = base64.StdEncoding.EncodeToString(h)
	}
	return out
}

// approveCSC has the citizen approve an authorization in the app.
func (e *signEnv) approveCSC(t *testing.T, ph *testPhone, tok, authID string) {
	t.Helper()
	var c beginReply
	if rec := e.call(t, "POST", "/api/v1/csc-authorizations/"+authID+"/approval/begin", tok, nil, &c); rec.Code != 200 {
		t.Fatalf("approval begin: %d %s", rec.Code, rec.Body)
	}
	opts, err := virtualwebauthn.ParseAssertionOptions(string(c.Options))
	if err != nil {
		t.Fatal(err)
	}
	ph.cred.Counter++
	resp := virtualwebauthn.CreateAssertionResponse(e.rp, ph.auth, ph.cred, *opts)
	if rec := e.call(t, "POST", "/api/v1/csc-authorizations/"+authID+"/approval/finish", tok,
		map[string]any{"ceremony_id": c.CeremonyID, "credential": json.RawMessage(resp)}, nil); rec.Code != 200 {
		t.Fatalf("approval finish: %d %s", rec.Code, rec.Body)
	}
}

// TestCSCFlow: list → info → authorize → approve in the app → signHash →
// a CMS signature (in a PAdES PDF) that Thiqa's validator accepts; with
// the v2 member names and with the v1 aliases.
func TestCSCFlow(t *testing.T) {
	e := newSignEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	ph, tok := e.citizen(t, off, "9861234567")
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	c := &cscClient{base: ts.URL, token: tok, http: ts.Client()}
	trust := signing.CATrust(e.ca)

	var info cscInfo
	if _, err := (&cscClient{base: ts.URL, http: ts.Client()}).call("info", map[string]any{}, &info); err != nil || info.Specs != "2.0.0.2" || len(info.Methods) != 7 {
		t.Fatalf("info %+v: %v", info, err)
	}
	for _, v1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v1=%v", v1), func(t *testing.T) {
			ids, err := c.list()
			if err != nil || len(ids) != 1 {
				t.Fatalf("list %v: %v", ids, err)
			}
			ci, err := c.credentialInfo(ids[0])
			if err != nil || ci.SCAL != "2" || ci.Key.Status != "enabled" || len(ci.Cert.Certificates) != 3 {
				t.Fatalf("info %+v: %v", ci, err)
			}
			var chain []*x509.Certificate
			for _, s := range ci.Cert.Certificates {
				der, _ := base64.StdEncoding.DecodeString(s)
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					t.Fatal(err)
				}
				chain = append(chain, cert)
			}
			// The client prepares a PDF with the signer and asks for its
			// data-to-be-signed to be signed.
			pdf := testenv.CorpusPDF(t, "testfile12.pdf")
			p, digest, err := signer.Prepare(context.Background(), bytes.NewReader(pdf), int64(len(pdf)), &signer.Options{
				Certificate: chain[0], Chain: chain[1:], Level: signer.LevelBLT, Time: *e.now,
				Timestamper: signer.TimestamperFunc(e.ca.TSA().Token), Revocation: trust, ExtraCertificates: trust.ExtraCertificates()})
			if err != nil {
				t.Fatal(err)
			}
			authID, err := c.authorize(ids[0], [][]byte{digest}, v1)
			if err != nil {
				t.Fatal(err)
			}
			if sad, err := c.authorizeCheck(ids[0], authID); err != nil || sad != "" {
				t.Fatalf("check before approval: %q %v", sad, err)
			}
			var pending []signing.HashAuthorization
			if rec := e.call(t, "GET", "/api/v1/csc-authorizations", tok, nil, &pending); rec.Code != 200 || len(pending) != 1 || pending[0].ID != authID {
				t.Fatalf("the app's list: %d %s", rec.Code, rec.Body)
			}
			e.approveCSC(t, ph, tok, authID)
			sad, err := c.authorizeCheck(ids[0], authID)
			if err != nil || sad == "" {
				t.Fatalf("check after approval: %q %v", sad, err)
			}
			// A hash the citizen did not approve is refused, and the SAD
			// survives that refusal.
			other := sha256.Sum256([]byte("something else"))
			if _, err := c.signHash(ids[0], sad, [][]byte{other[:]}, v1); err == nil {
				t.Fatal("signHash of an unbound hash succeeded")
			}
			if v1 { // extendTransaction replaces the SAD
				newSAD, err := c.extend(ids[0], sad)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.signHash(ids[0], sad, [][]byte{digest}, v1); err == nil {
					t.Fatal("the replaced SAD still works")
				}
				sad = newSAD
			}
			sigs, err := c.signHash(ids[0], sad, [][]byte{digest}, v1)
			if err != nil || len(sigs) != 1 {
				t.Fatalf("signHash: %v", err)
			}
			if _, err := c.signHash(ids[0], sad, [][]byte{digest}, v1); err == nil {
				t.Fatal("the SAD was used twice")
			}
			if err := p.Complete(context.Background(), sigs[0]); err != nil {
				t.Fatalf("the signature does not verify: %v", err)
			}
			var out bytes.Buffer
			if _, err := p.WriteTo(&out); err != nil {
				t.Fatal(err)
			}
			rep, err := validate.Validate(context.Background(), bytes.NewReader(out.Bytes()), int64(out.Len()),
				&validate.Options{TrustAnchors: []*x509.Certificate{e.root}, Time: e.now.Add(time.Hour)})
			if err != nil || rep.Indication != validate.TotalPassed || len(rep.Signatures) != 1 || rep.Signatures[0].Checks.SignatureValue != "passed" {
				j, _ := json.Marshal(rep)
				t.Fatalf("validate: %v %s", err, j)
			}
		})
	}
}

// TestCSCRefusals: each refusal is a CSC error object and nothing is
// signed.
func TestCSCRefusals(t *testing.T) {
	e := newSignEnv(t)
	admin := e.officer(t, "", "root", store.RoleAdmin)
	off := e.officer(t, admin, "omar", store.RoleOfficer)
	_, tok := e.citizen(t, off, "9861234567")
	_, other := e.citizen(t, off, "9867654321")
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	c := &cscClient{base: ts.URL, token: tok, http: ts.Client()}
	ids, err := c.list()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("x"))
	authID, err := c.authorize(ids[0], [][]byte{h[:]}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		method string
		req    any
		token  string
		status int
	}{
		{"another citizen's credential", "credentials/info", map[string]any{"credentialID": ids[0]}, other, 404},
		{"another citizen's authorization", "credentials/authorizeCheck", map[string]any{"credentialID": ids[0], "authorizationID": authID}, other, 404},
		{"numSignatures differs", "credentials/authorize", map[string]any{"credentialID": ids[0], "numSignatures": 2, "hashes": b64s([][]byte{h[:]})}, tok, 400},
		{"SHA-1", "credentials/authorize", map[string]any{"credentialID": ids[0], "numSignatures": 1, "hashes": b64s([][]byte{h[:20]}), "hashAlgorithmOID": "1.3.14.3.2.26"}, tok, 400},
		{"short hash", "credentials/authorize", map[string]any{"credentialID": ids[0], "numSignatures": 1, "hashes": b64s([][]byte{h[:20]})}, tok, 400},
		{"made-up SAD", "signatures/signHash", map[string]any{"credentialID": ids[0], "SAD": authID + ".nope", "hashes": b64s([][]byte{h[:]})}, tok, 400},
		{"SAD before approval", "credentials/extendTransaction", map[string]any{"credentialID": ids[0], "SAD": authID + "."}, tok, 400},
		{"no token", "credentials/list", map[string]any{}, "", 401},
		{"unknown method", "credentials/delete", map[string]any{}, tok, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := &cscClient{base: ts.URL, token: tc.token, http: ts.Client()}
			status, err := cl.call(tc.method, tc.req, nil)
			if status != tc.status || err == nil {
				t.Errorf("%d %v, want %d", status, err, tc.status)
			}
		})
	}
	if n := e.signs.Load(); n != 0 {
		t.Errorf("the citizen's key signed %d hashes", n)
	}
}
