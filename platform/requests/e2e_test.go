package requests_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/internal/testtool"
	"github.com/thiqa/thiqa/platform/catalogue"
	"github.com/thiqa/thiqa/platform/payments/sandbox"
	"github.com/thiqa/thiqa/platform/requests"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// client talks to Thiqa's HTTP API as the citizen's app or the agency's
// system would.
type client struct {
	t    *testing.T
	base string
}

func (c client) do(method, path, token string, in, out any) (int, []byte) {
	c.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			c.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, b
}

func (c client) must(status int, method, path, token string, in, out any) []byte {
	c.t.Helper()
	got, b := c.do(method, path, token, in, out)
	if got != status {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, got, b, status)
	}
	return b
}

// phone is the citizen's phone with its passkey.
type phone struct {
	rp   virtualwebauthn.RelyingParty
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newPhone(t *testing.T, userID []byte) *phone {
	t.Helper()
	return &phone{rp: testenv.RP, auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: userID}),
		cred: testenv.Passkey(t)}
}

func (p *phone) assert(t *testing.T, options json.RawMessage) json.RawMessage {
	t.Helper()
	opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		t.Fatal(err)
	}
	p.cred.Counter++
	return json.RawMessage(virtualwebauthn.CreateAssertionResponse(p.rp, p.auth, p.cred, *opts))
}

// activate enrols the citizen at a centre (in process, as the officer's
// console would) and activates and signs in over HTTP with a passkey.
func activate(t *testing.T, n *node.Node, c client, nid string) (*phone, string) {
	t.Helper()
	ctx := context.Background()
	officer := enrollment.Principal{Kind: enrollment.KindOfficer, Username: "omar", Role: store.RoleOfficer, Centre: "AMM-01"}
	enr, err := n.Enrollment.Enrol(ctx, officer, enrollment.Proofing{NationalID: nid, GivenName: "Layla", Surname: "Haddad",
		GivenNameAr: "ليلى", SurnameAr: "حداد", DateOfBirth: "1990-04-12", DocType: "national-id-card", DocNumber: "AB123456",
		DocExpiry: "2030-01-01", DocCheck: "pass", FaceMatch: "pass"})
	if err != nil {
		t.Fatal(err)
	}
	var ch enrollment.Challenge
	c.must(200, "POST", "/api/v1/activation/begin", "", map[string]string{"national_id": nid, "code": enr.Code.Code}, &ch)
	ao, err := virtualwebauthn.ParseAttestationOptions(string(ch.Options))
	if err != nil {
		t.Fatal(err)
	}
	ph := newPhone(t, []byte(ao.UserID))
	att := virtualwebauthn.CreateAttestationResponse(ph.rp, ph.auth, ph.cred, *ao)
	c.must(200, "POST", "/api/v1/activation/finish", "", map[string]any{"ceremony_id": ch.CeremonyID, "device_name": "phone", "credential": json.RawMessage(att)}, nil)
	c.must(200, "POST", "/api/v1/signin/begin", "", nil, &ch)
	var s struct{ Token string }
	c.must(200, "POST", "/api/v1/signin/finish", "", map[string]any{"ceremony_id": ch.CeremonyID, "credential": ph.assert(t, ch.Options)}, &s)
	return ph, s.Token
}

// platform is a Thiqa node serving on 127.0.0.1 with service requests,
// the sample catalogue, a centre, an agency and an active citizen.
type platform struct {
	n      *node.Node
	c      client
	agency signing.AgencyKey
	phone  *phone
	token  string
}

// newPlatform opens the node on the embedded store (dsn "") or on
// PostgreSQL; with a gateway, payments go through `thiqa sandbox-gateway`
// running as its own process.
func newPlatform(t *testing.T, dsn string, gateway bool) *platform {
	t.Helper()
	ctx := context.Background()
	n, _, err := node.Open(ctx, node.Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig(), Store: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	st := n.Store.(catalogue.Store)
	p := &platform{n: n}

	// Thiqa serves on 127.0.0.1; the gateway process calls it back there.
	var handler http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	if gateway {
		secretFile, secret := testenv.GatewaySecret(t, t.TempDir(), "gateway.secret")
		gwURL := testenv.SandboxGateway(t, testenv.BuildThiqa(t), secretFile, srv.URL+"/api/v1/payments/callback")
		if err := n.OpenPayments(ctx, node.PaymentsOptions{GatewayURL: gwURL, Secret: secret, ReturnURL: srv.URL + "/app/"}); err != nil {
			t.Fatal(err)
		}
	}
	handler = n.Handler()

	// The catalogue (the shipped sample), the agencies that decide birth
	// certificates and social security statements, a centre and its
	// officer.
	f, err := os.Open(filepath.Join("..", "..", "testdata", "catalogue", "sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = catalogue.New(st, catalogue.Options{}).Import(ctx, f, catalogue.CSV, catalogue.DecodeOptions{})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if p.agency, err = n.Signing.AddAgency(ctx, signing.NewAgency{Name: "CSPD", Scopes: []string{signing.ScopeSignRequests}}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Enrollment.CreateCentre(ctx, enrollment.Operator("test"), store.Centre{Code: "AMM-01", NameAr: "عمان", NameEn: "Amman 1", Governorate: "Amman"}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Enrollment.CreateOfficer(ctx, enrollment.Operator("test"), enrollment.NewOfficer{Username: "omar", Role: store.RoleOfficer, Centre: "AMM-01", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	p.c = client{t: t, base: srv.URL}
	p.phone, p.token = activate(t, n, p.c, "9861234567")
	return p
}

// sign approves a sign request with the citizen's passkey.
func (p *platform) sign(t *testing.T, id string) {
	t.Helper()
	var ch struct {
		CeremonyID string          `json:"ceremony_id"`
		Options    json.RawMessage `json:"options"`
	}
	p.c.must(200, "POST", "/api/v1/sign-requests/"+id+"/approval/begin", p.token, nil, &ch)
	p.c.must(200, "POST", "/api/v1/sign-requests/"+id+"/approval/finish", p.token,
		map[string]any{"ceremony_id": ch.CeremonyID, "credential": p.phone.assert(t, ch.Options)}, nil)
}

// TestEndToEnd is issue 11's test: a citizen opens a fee-bearing request,
// pays through the sandbox gateway process (`thiqa sandbox-gateway`), signs the form with a passkey,
// the agency accepts, and the citizen downloads a sealed result that
// Thiqa's validator reports TOTAL-PASSED and pdfsig calls valid.
func TestEndToEnd(t *testing.T) {
	pdfsig := testtool.Require(t, "pdfsig")
	ctx := context.Background()
	p := newPlatform(t, "", true)
	n, c, agency, tok := p.n, p.c, p.agency, p.token

	// 1. The citizen opens a request for a birth certificate (2 JOD).
	var v requests.View
	c.must(201, "POST", "/api/v1/service-requests", tok, map[string]string{"service": "CSPD-001"}, &v)
	if v.FeeFils != 2000 || v.Invoice == "" || v.SignRequest == "" || !v.Sealed {
		t.Fatalf("opened %+v", v)
	}
	base := "/api/v1/service-requests/" + v.ID
	c.must(402, "POST", base+"/submit", tok, nil, nil)

	// 2. Pays at the gateway's checkout page; the gateway process calls
	// Thiqa back at /api/v1/payments/callback.
	var co struct{ URL string }
	c.must(200, "POST", "/api/v1/invoices/"+v.Invoice+"/checkout", tok, nil, &co)
	checkout := co.URL
	resp, err := http.Get(checkout)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("checkout page: %v %v", err, resp)
	}
	resp.Body.Close()
	resp, err = http.PostForm(checkout, url.Values{"card": {sandbox.CardPays}, "action": {"pay"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("pay: %d %s", resp.StatusCode, page)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var inv struct{ State string }
		c.must(200, "GET", "/api/v1/invoices/"+v.Invoice, tok, nil, &inv)
		if inv.State == store.InvoicePaid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("invoice %s, not paid", inv.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.must(409, "POST", base+"/submit", tok, nil, nil) // paid, not signed yet

	// Until it is submitted the agency's queue does not show it.
	var none requests.Queue
	c.must(200, "GET", "/api/v1/agency/service-requests", agency.Key, nil, &none)
	if len(none.Requests) != 0 {
		t.Fatalf("queue before submission %+v", none)
	}

	// 3. Signs the form with the passkey, through the signing API.
	p.sign(t, v.SignRequest)
	c.must(200, "POST", base+"/submit", tok, nil, &v)

	// 4. The agency finds it in its queue and accepts.
	var q requests.Queue
	c.must(200, "GET", "/api/v1/agency/service-requests", agency.Key, nil, &q)
	if len(q.Requests) != 1 || q.Requests[0].ID != v.ID {
		t.Fatalf("queue %+v", q)
	}
	// The agency's page lists it too, with the signed form to download;
	// without credentials, or as another agency, it is not shown.
	queuePage := string(c.must(200, "GET", "/agency/requests", agency.Key, nil, nil))
	if !strings.Contains(queuePage, `id="r-`+v.ID+`"`) || !strings.Contains(queuePage, "/agency/requests/"+v.ID+"/signed-form") {
		t.Fatalf("agency page lacks the request:\n%s", queuePage)
	}
	if signed := c.must(200, "GET", "/agency/requests/"+v.ID+"/signed-form", agency.Key, nil, nil); !bytes.HasPrefix(signed, []byte("%PDF-")) {
		t.Fatal("the signed form from the page is not a PDF")
	}
	c.must(401, "GET", "/agency/requests", "", nil, nil)
	other, err := n.Signing.AddAgency(ctx, signing.NewAgency{Name: "DLS", Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		t.Fatal(err)
	}
	if page := string(c.must(200, "GET", "/agency/requests", other.Key, nil, nil)); strings.Contains(page, v.ID) {
		t.Fatal("another agency's page shows the request")
	}
	c.must(404, "GET", "/agency/requests/"+v.ID+"/signed-form", other.Key, nil, nil)
	c.must(200, "POST", base+"/accept", agency.Key, map[string]string{"note": "Collect the certificate online."}, &v)

	// 5. The citizen downloads the sealed result.
	result := c.must(200, "GET", base+"/result", tok, nil, nil)
	root, _ := n.CA.AuthorityCertificate(ca.Root)
	rep, err := validate.Validate(ctx, bytes.NewReader(result), int64(len(result)), &validate.Options{TrustAnchors: []*x509.Certificate{root}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indication != validate.TotalPassed || len(rep.Signatures) != 1 || rep.Signatures[0].Level != "B-LT" ||
		!strings.Contains(rep.Signatures[0].Signer.Issuer, "Organisation CA") {
		t.Fatalf("validation of the result: %s %s %s", rep.Indication, rep.SubIndication, rep.Problem)
	}
	path := filepath.Join(t.TempDir(), "result.pdf")
	if err := os.WriteFile(path, result, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdfsig, "-nocert", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature Validation: Signature is Valid.") {
		t.Fatalf("pdfsig: %v\n%s", err, out)
	}
	var got []string
	for _, tr := range v.Transitions {
		got = append(got, tr.To)
	}
	if strings.Join(got, " ") != "opened submitted accepted" {
		t.Errorf("transitions %v", got)
	}
}

// TestDoubleAcceptPostgres: two replicas' worth of agency calls accepting
// one request at once on PostgreSQL give one acceptance (the store's
// compare-and-set in a serializable transaction).
func TestDoubleAcceptPostgres(t *testing.T) {
	p := newPlatform(t, pgtest.DSN(t), false)
	ssc, err := p.n.Signing.AddAgency(context.Background(), signing.NewAgency{Name: "SSC", Scopes: []string{signing.ScopeSignRequests}})
	if err != nil {
		t.Fatal(err)
	}
	var v requests.View
	p.c.must(201, "POST", "/api/v1/service-requests", p.token, map[string]string{"service": "SSC-002"}, &v)
	p.sign(t, v.SignRequest)
	p.c.must(200, "POST", "/api/v1/service-requests/"+v.ID+"/submit", p.token, nil, &v)
	const racers = 4
	codes := make(chan int, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := p.c.do("POST", "/api/v1/service-requests/"+v.ID+"/accept", ssc.Key, map[string]string{"note": fmt.Sprint("officer ", i)}, nil)
			codes <- code
		}()
	}
	wg.Wait()
	close(codes)
	won := 0
	for code := range codes {
		switch code {
		case 200:
			won++
		case 409:
		default:
			t.Errorf("accept: %d", code)
		}
	}
	p.c.must(200, "GET", "/api/v1/service-requests/"+v.ID, p.token, nil, &v)
	if won != 1 || v.State != store.RequestAccepted || len(v.Transitions) != 3 {
		t.Fatalf("%d acceptances, request %s with %d transitions", won, v.State, len(v.Transitions))
	}
}
