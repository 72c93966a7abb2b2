package node

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// resolveIssuer makes the OpenID provider's issuer and the passkey relying
// party agree: the sign-in page at the issuer asks for a passkey, which
// the browser gives only on a passkey origin. With an Issuer and no
// WebAuthn settings, the relying party ID is the issuer's host name and
// its origin the only passkey origin; with both, the issuer's origin must
// be one of WebAuthnOrigins and its host within WebAuthnRPID. Without an Issuer it is the first passkey
// origin (default http://localhost:8080) + "/oidc".
func (o *Options) resolveIssuer() error {
	if o.Issuer == "" {
		origin := "http://localhost:8080"
		if len(o.WebAuthnOrigins) > 0 {
			origin = o.WebAuthnOrigins[0]
		}
		o.Issuer = origin + "/oidc"
		return nil
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("issuer %q: want an absolute http(s) URL without query or fragment", o.Issuer)
	}
	origin := u.Scheme + "://" + u.Host
	if len(o.WebAuthnOrigins) == 0 {
		o.WebAuthnOrigins = []string{origin}
	} else if !slices.Contains(o.WebAuthnOrigins, origin) {
		return fmt.Errorf("issuer %s: its origin %s is not a passkey (WebAuthn) origin %v", o.Issuer, origin, o.WebAuthnOrigins)
	}
	host := u.Hostname()
	if o.WebAuthnRPID == "" {
		o.WebAuthnRPID = host
	}
	if host != o.WebAuthnRPID && !strings.HasSuffix(host, "."+o.WebAuthnRPID) {
		return fmt.Errorf("issuer %s: its host is not within the passkey relying party ID %s", o.Issuer, o.WebAuthnRPID)
	}
	return nil
}
