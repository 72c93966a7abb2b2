package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/descope/virtualwebauthn"
)

// Phone is an activated citizen's phone: a virtual authenticator holding
// the passkey registered at activation. An op uses one phone at a time,
// so that its signature counter grows in the order the server sees it.
type Phone struct {
	NationalID string
	RP         virtualwebauthn.RelyingParty
	Auth       virtualwebauthn.Authenticator
	Cred       virtualwebauthn.Credential

	mu    sync.Mutex
	token string // the citizen session of the last sign-in
}

// phones hands out phones in turn.
type phones struct {
	all  []*Phone
	next atomic.Uint64
}

func (p *phones) take() *Phone {
	ph := p.all[(p.next.Add(1)-1)%uint64(len(p.all))]
	ph.mu.Lock()
	return ph
}

// assert answers a WebAuthn challenge with the phone's passkey.
func (ph *Phone) assert(options json.RawMessage) (json.RawMessage, error) {
	opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		return nil, fmt.Errorf("assertion options: %w", err)
	}
	ph.Cred.Counter++
	return json.RawMessage(virtualwebauthn.CreateAssertionResponse(ph.RP, ph.Auth, ph.Cred, *opts)), nil
}

// challenge is the answer of a */begin endpoint.
type challenge struct {
	CeremonyID string          `json:"ceremony_id"`
	Options    json.RawMessage `json:"options"`
}

// finish is the body of a */finish endpoint.
type finish struct {
	CeremonyID string          `json:"ceremony_id"`
	Credential json.RawMessage `json:"credential"`
}

// postJSON posts body as JSON with the bearer token and decodes a 2xx
// answer into out.
func postJSON(ctx context.Context, c *http.Client, url, token string, body, out any) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := readLimited(resp)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &statusError{path: req.URL.Path, status: resp.StatusCode, body: b}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: %w", req.URL.Path, err)
	}
	return nil
}

type statusError struct {
	path   string
	status int
	body   []byte
}

func (e *statusError) Error() string {
	return fmt.Sprintf("POST %s: %d %s", e.path, e.status, bytes.TrimSpace(e.body[:min(len(e.body), 200)]))
}

// signIn signs the phone's citizen in with the passkey and keeps the
// session token.
func (ph *Phone) signIn(ctx context.Context, c *http.Client, base string) error {
	var ch challenge
	if err := postJSON(ctx, c, base+"/api/v1/signin/begin", "", nil, &ch); err != nil {
		return err
	}
	cred, err := ph.assert(ch.Options)
	if err != nil {
		return err
	}
	var s struct {
		Token string `json:"token"`
	}
	if err := postJSON(ctx, c, base+"/api/v1/signin/finish", "", finish{ch.CeremonyID, cred}, &s); err != nil {
		return err
	}
	if s.Token == "" {
		return errors.New("sign-in: no session token")
	}
	ph.token = s.Token
	return nil
}

// SignIn signs citizens in with their passkeys (POST /api/v1/signin/begin
// and /finish), each op with the next of phones, and checks that a
// session token comes back.
func SignIn(weight int, all []*Phone) Op {
	p := &phones{all: all}
	return Op{Name: "signin", Weight: weight, Do: func(ctx context.Context, c *http.Client, base string) error {
		if len(p.all) == 0 {
			return errors.New("sign-in: no phones")
		}
		ph := p.take()
		defer ph.mu.Unlock()
		return ph.signIn(ctx, c, base)
	}}
}

// Approve is a whole signature: an agency (its API key) asks the next of
// phones' citizens to sign pdf (POST /api/v1/sign-requests), and the
// citizen, signed in with the passkey when it has no session yet,
// approves it with the passkey (approval/begin and /finish); the request
// must end signed. signed, when not nil, is told the ID of each request
// the server acknowledged as signed (a crash test then checks that none
// is lost).
func Approve(weight int, agencyKey string, pdf []byte, all []*Phone, signed func(id string)) Op {
	p := &phones{all: all}
	return Op{Name: "approve", Weight: weight, Do: func(ctx context.Context, c *http.Client, base string) error {
		if len(p.all) == 0 {
			return errors.New("approve: no phones")
		}
		ph := p.take()
		defer ph.mu.Unlock()
		var req struct {
			ID    string `json:"id"`
			State string `json:"state"`
		}
		body := map[string]any{"national_id": ph.NationalID, "purpose_ar": "اختبار الحمل", "purpose_en": "Load test",
			"documents": []map[string]any{{"name": "load.pdf", "content": pdf}}}
		if err := postJSON(ctx, c, base+"/api/v1/sign-requests", agencyKey, body, &req); err != nil {
			return err
		}
		if ph.token == "" {
			if err := ph.signIn(ctx, c, base); err != nil {
				return err
			}
		}
		var ch challenge
		err := postJSON(ctx, c, base+"/api/v1/sign-requests/"+req.ID+"/approval/begin", ph.token, nil, &ch)
		var se *statusError
		if errors.As(err, &se) && se.status == http.StatusUnauthorized {
			// The session expired: sign in again.
			if err := ph.signIn(ctx, c, base); err != nil {
				return err
			}
			err = postJSON(ctx, c, base+"/api/v1/sign-requests/"+req.ID+"/approval/begin", ph.token, nil, &ch)
		}
		if err != nil {
			return err
		}
		cred, err := ph.assert(ch.Options)
		if err != nil {
			return err
		}
		if err := postJSON(ctx, c, base+"/api/v1/sign-requests/"+req.ID+"/approval/finish", ph.token, finish{ch.CeremonyID, cred}, &req); err != nil {
			return err
		}
		if req.State != "signed" {
			return fmt.Errorf("approve: request %s is %s, want signed", req.ID, req.State)
		}
		if signed != nil {
			signed(req.ID)
		}
		return nil
	}}
}

func readLimited(resp *http.Response) ([]byte, error) {
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}
