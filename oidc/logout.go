package oidc

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// backChannelEvent is the event claim of a logout token.
const backChannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// signedOut is a relying party a citizen was signed in to.
type signedOut struct{ clientID, subject string }

// notifyLogout posts a logout token to each relying party that registered
// a back-channel logout URI. Failures are not retried: the portal's
// session then ends with its own timeout.
func (p *Provider) notifyLogout(ctx context.Context, parties []signedOut) {
	for _, s := range parties {
		c, err := p.d.Clients.OIDCClient(ctx, s.clientID)
		if err != nil || c.BackChannelLogoutURI == "" {
			continue
		}
		tok, err := p.logoutToken(s)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackChannelLogoutURI, bytes.NewBufferString(url.Values{"logout_token": {tok}}.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if resp, err := p.opts.HTTPClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
		cancel()
	}
}

// logoutToken signs a logout token for one relying party.
func (p *Provider) logoutToken(s signedOut) (string, error) {
	k := p.keys[len(p.keys)-1]
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: opaque{k}},
		(&jose.SignerOptions{}).WithType("logout+jwt").WithHeader("kid", string(k.ID())))
	if err != nil {
		return "", fmt.Errorf("logout token: %w", err)
	}
	jti := make([]byte, 16)
	if _, err := p.opts.Rand.Read(jti); err != nil {
		return "", fmt.Errorf("logout token: %w", err)
	}
	now := p.now()
	claims := map[string]any{"iss": p.issuer, "sub": s.subject, "aud": s.clientID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": fmt.Sprintf("%x", jti), "events": map[string]any{backChannelEvent: map[string]any{}}}
	out, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("logout token: %w", err)
	}
	return out, nil
}
