package oidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

// TestRotation rotates the signing key: the new key signs, and an ID token
// signed by the previous key still verifies against the published JWKS.
func TestRotation(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	c, secret := e.register(t, "Justice")
	before := e.login(t, e.party(t, c.ID, secret), ph)
	raw := before.raw
	id, err := Rotate(ctx, e.keys)
	if err != nil {
		t.Fatal(err)
	}
	if id != KeyPrefix+"2" {
		t.Fatalf("rotated to %s", id)
	}
	e.serve(e.provider(t))
	keys, err := e.p.st.KeySet(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("key set %d keys, %v", len(keys), err)
	}
	r := e.party(t, c.ID, secret)
	if _, err := r.verifier.Verify(ctx, raw); err != nil {
		t.Errorf("token of the previous key: %v", err)
	}
	after := e.login(t, r, ph)
	if after.kid != KeyPrefix+"2" || before.kid != KeyPrefix+"1" {
		t.Errorf("kids %s then %s", before.kid, after.kid)
	}
	// A second rotation retires key 1 from the JWKS.
	if _, err := Rotate(ctx, e.keys); err != nil {
		t.Fatal(err)
	}
	e.serve(e.provider(t))
	if _, err := e.party(t, c.ID, secret).verifier.Verify(ctx, raw); err == nil {
		t.Errorf("token of a retired key verified")
	}
}

// TestPrivateKeyJWT authenticates a client with a signed assertion.
func TestPrivateKeyJWT(t *testing.T) {
	e := newEnv(t)
	ph := e.citizen(t, "9901234567")
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	c, secret, err := Register(ctx, e.st, Registration{NameAr: "وزارة", NameEn: "Ministry", RedirectURIs: []string{redirect}, JWKS: set}, nil, e.clock.now())
	if err != nil || secret != "" {
		t.Fatalf("register: %v (secret %q)", err, secret)
	}
	r := e.party(t, c.ID, "")
	r.cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	assertion := func(key *ecdsa.PrivateKey) string {
		sig, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		now := time.Now()
		s, err := jwt.Signed(sig).Claims(jwt.Claims{Issuer: c.ID, Subject: c.ID, Audience: jwt.Audience{e.p.Issuer()},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: oauth2.GenerateVerifier()}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	used := assertion(k)
	for _, tt := range []struct {
		name      string
		assertion string
		ok        bool
	}{{"registered key", used, true}, {"replayed assertion", used, false}, {"other key", assertion(other), false}} {
		t.Run(tt.name, func(t *testing.T) {
			code, v := e.code(t, r, ph)
			_, err := r.cfg.Exchange(ctx, code, oauth2.VerifierOption(v),
				oauth2.SetAuthURLParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
				oauth2.SetAuthURLParam("client_assertion", tt.assertion))
			if tt.ok && err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if !tt.ok {
				wantOAuthError(t, err, "invalid_client")
			}
		})
	}
}
