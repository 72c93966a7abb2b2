package node

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/ca"
)

func TestResolveIssuer(t *testing.T) {
	tests := []struct {
		name                string
		in                  Options
		issuer, rpID, origs string // want; origs joined by space
		err                 string
	}{
		{"defaults", Options{}, "http://localhost:8080/oidc", "", "", ""},
		{"from the passkey origin", Options{WebAuthnRPID: "thiqa.gov.jo", WebAuthnOrigins: []string{"https://id.thiqa.gov.jo"}},
			"https://id.thiqa.gov.jo/oidc", "thiqa.gov.jo", "https://id.thiqa.gov.jo", ""},
		{"issuer sets the passkey relying party", Options{Issuer: "https://id.thiqa.gov.jo/oidc"},
			"https://id.thiqa.gov.jo/oidc", "id.thiqa.gov.jo", "https://id.thiqa.gov.jo", ""},
		{"issuer within the relying party", Options{Issuer: "https://id.thiqa.gov.jo/oidc", WebAuthnRPID: "thiqa.gov.jo"},
			"https://id.thiqa.gov.jo/oidc", "thiqa.gov.jo", "https://id.thiqa.gov.jo", ""},
		{"issuer on one of the passkey origins", Options{Issuer: "https://id.thiqa.gov.jo/oidc", WebAuthnRPID: "thiqa.gov.jo",
			WebAuthnOrigins: []string{"https://app.thiqa.gov.jo", "https://id.thiqa.gov.jo"}},
			"https://id.thiqa.gov.jo/oidc", "thiqa.gov.jo", "https://app.thiqa.gov.jo https://id.thiqa.gov.jo", ""},
		{"issuer off the passkey origins", Options{Issuer: "https://login.example/oidc", WebAuthnOrigins: []string{"https://id.thiqa.gov.jo"}},
			"", "", "", "not a passkey"},
		{"issuer outside the relying party", Options{Issuer: "https://login.example/oidc", WebAuthnRPID: "thiqa.gov.jo"},
			"", "", "", "not within"},
		{"relative issuer", Options{Issuer: "/oidc"}, "", "", "", "absolute"},
		{"issuer with a query", Options{Issuer: "https://id.thiqa.gov.jo/oidc?x=1"}, "", "", "", "absolute"},
		{"ftp issuer", Options{Issuer: "ftp://id.thiqa.gov.jo/oidc"}, "", "", "", "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.in
			err := o.resolveIssuer()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Issuer != tt.issuer || o.WebAuthnRPID != tt.rpID || strings.Join(o.WebAuthnOrigins, " ") != tt.origs {
				t.Fatalf("got issuer %s, RP ID %q, origins %v", o.Issuer, o.WebAuthnRPID, o.WebAuthnOrigins)
			}
		})
	}
}

// TestOpenWithIssuer: the provider answers as the issuer given, and the
// passkeys it asks for are for the issuer's host.
func TestOpenWithIssuer(t *testing.T) {
	ctx := context.Background()
	n, _, err := Open(ctx, Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig(), Issuer: "https://id.thiqa.test/oidc"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.OIDC == nil || n.OIDC.Issuer() != "https://id.thiqa.test/oidc" {
		t.Fatalf("provider %v", n.OIDC)
	}
	ch, err := n.Enrollment.BeginSignIn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ch.Options), `"rpId":"id.thiqa.test"`) {
		t.Fatalf("sign-in options %s, want rpId id.thiqa.test", ch.Options)
	}
	if _, _, err := Open(ctx, Options{Dir: filepath.Join(t.TempDir(), "other"), Create: true, CA: ca.DefaultConfig(),
		Issuer: "https://id.thiqa.test/oidc", WebAuthnOrigins: []string{"https://app.thiqa.test"}}); err == nil {
		t.Fatal("a node whose issuer is off its passkey origins opened")
	}
}
