package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/pquerna/otp/totp"

	"github.com/thiqa/thiqa/internal/testenv"
)

// TestAdminAndPasskeys creates the first admin and an officer with the CLI,
// starts thiqa serve, and then over HTTP: the officer signs in with
// password and TOTP and enrols a citizen, the citizen activates with a
// virtual passkey and signs in.
func TestAdminAndPasskeys(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if out, code := run(t, nil, "init", "--data", data); code != 0 {
		t.Fatalf("init: %s", out)
	}
	out, code := run(t, nil, "admin", "centre", "add", "--data", data, "--code", "AMM-01", "--name-en", "Amman 1", "--name-ar", "عمان ١", "--governorate", "Amman")
	if code != 0 {
		t.Fatalf("centre add: %s", out)
	}
	out, code = run(t, nil, "admin", "officer", "add", "--data", data, "--username", "omar", "--role", "officer", "--centre", "AMM-01")
	if code != 0 {
		t.Fatalf("officer add: %s", out)
	}
	password := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`secret=([A-Z2-7]+)`).FindStringSubmatch(out)
	if password == nil || secret == nil || !strings.Contains(out, "█") {
		t.Fatalf("officer add printed no password, TOTP secret or QR:\n%s", out)
	}
	if out, code := run(t, nil, "admin", "officer", "add", "--data", data, "--username", "omar", "--role", "officer", "--centre", "AMM-01"); code == 0 || !strings.Contains(out, "already exists") {
		t.Errorf("duplicate officer: exit %d: %s", code, out)
	}

	if out, code := run(t, nil, "admin", "officer", "add", "--data", data, "--username", "gone", "--centre", "AMM-01"); code != 0 {
		t.Fatalf("officer add: %s", out)
	}
	if out, code := run(t, nil, "admin", "officer", "disable", "--data", data, "--username", "gone", "--why", "left"); code != 0 || !strings.Contains(out, "disabled") {
		t.Fatalf("officer disable: exit %d: %s", code, out)
	}

	addr := freeAddr(t)
	serve(t, data, addr)
	base := "http://" + addr + "/api/v1"
	post := func(path, token string, body any, out any) int {
		t.Helper()
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(raw))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode < 300 && out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s: %v: %s", path, err, b)
			}
		} else if resp.StatusCode >= 300 {
			t.Logf("%s: %s: %s", path, resp.Status, b)
		}
		return resp.StatusCode
	}
	if out, code := run(t, nil, "admin", "centre", "list", "--data", data); code == 0 || !strings.Contains(out, "stop thiqa serve first") {
		t.Errorf("admin while serving: exit %d: %s", code, out)
	}
	code6, err := totp.GenerateCode(secret[1], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var sess struct{ Token string }
	if st := post("/officers/signin", "", map[string]string{"username": "omar", "password": password[1], "totp": code6}, &sess); st != 200 {
		t.Fatalf("officer sign-in: %d", st)
	}
	var enr struct {
		Activation struct{ Code string }
	}
	proof := map[string]string{"national_id": "9861234567", "given_name": "Layla", "surname": "Haddad", "given_name_ar": "ليلى", "surname_ar": "حداد",
		"date_of_birth": "1990-04-12", "doc_type": "national-id-card", "doc_number": "AB1", "doc_expiry": "2099-01-01", "doc_check": "pass", "face_match": "pass"}
	if st := post("/enrollments", sess.Token, proof, &enr); st != 201 {
		t.Fatalf("enrol: %d", st)
	}
	var ch struct {
		CeremonyID string          `json:"ceremony_id"`
		Options    json.RawMessage `json:"options"`
	}
	if st := post("/activation/begin", "", map[string]string{"national_id": "٩٨٦١٢٣٤٥٦٧", "code": enr.Activation.Code}, &ch); st != 200 {
		t.Fatalf("activation begin: %d", st)
	}
	rp := virtualwebauthn.RelyingParty{ID: "localhost", Name: "Thiqa", Origin: "http://localhost:8080"}
	ao, err := virtualwebauthn.ParseAttestationOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	auth := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(ao.UserID)})
	cred := testenv.Passkey(t)
	att := virtualwebauthn.CreateAttestationResponse(rp, auth, cred, *ao)
	var act struct {
		Identity    struct{ State string }
		SigningCert []byte `json:"signing_cert"`
	}
	if st := post("/activation/finish", "", map[string]any{"ceremony_id": ch.CeremonyID, "device_name": "phone", "credential": json.RawMessage(att)}, &act); st != 200 || act.Identity.State != "active" || len(act.SigningCert) == 0 {
		t.Fatalf("activation finish: %d %+v", st, act.Identity)
	}
	if st := post("/signin/begin", "", nil, &ch); st != 200 {
		t.Fatalf("sign-in begin: %d", st)
	}
	so, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	cred.Counter = 1
	asr := virtualwebauthn.CreateAssertionResponse(rp, auth, cred, *so)
	var citizen struct{ Token string }
	if st := post("/signin/finish", "", map[string]any{"ceremony_id": ch.CeremonyID, "credential": json.RawMessage(asr)}, &citizen); st != 200 || citizen.Token == "" {
		t.Fatalf("sign-in finish: %d", st)
	}
	if st := post("/signin/finish", "", map[string]any{"ceremony_id": ch.CeremonyID, "credential": json.RawMessage(asr)}, nil); st != 400 {
		t.Errorf("replayed sign-in: %d, want 400", st)
	}
}

func TestAdminHelp(t *testing.T) {
	for _, args := range [][]string{
		{"admin", "--help"}, {"admin", "centre", "add", "--help"}, {"admin", "officer", "add", "--help"}, {"admin", "officer", "disable", "--help"},
	} {
		out, code := run(t, nil, args...)
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Example") {
			t.Errorf("thiqa %s: exit %d, no usage or examples:\n%s", strings.Join(args, " "), code, out)
		}
	}
	if out, code := run(t, nil, "admin", "officer", "add", "--data", filepath.Join(t.TempDir(), "none"), "--username", "omar"); code == 0 || !strings.Contains(out, "does not exist") {
		t.Errorf("officer add without a data directory: exit %d: %s", code, out)
	}
}
