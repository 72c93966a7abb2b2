package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/oidc"
)

// newAdminOIDCClientCmd returns "thiqa admin agency oidc-client": agencies'
// portals as relying parties of the OpenID Connect provider.
func newAdminOIDCClientCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "oidc-client", Short: "Agencies' portals that sign citizens in with Thiqa (OpenID Connect)"}
	cmd.AddCommand(newAdminOIDCClientAddCmd(g))
	return cmd
}

func newAdminOIDCClientAddCmd(g *globals) *cobra.Command {
	var (
		r        oidc.Registration
		jwksFile string
	)
	cmd := &cobra.Command{
		Use:   "add --name-ar NAME --name-en NAME --redirect-uri URI [--scope national_id] [--jwks FILE]",
		Short: "Register a relying party and print its client ID and secret (shown once)",
		Long: `add registers an agency's portal as an OpenID Connect client. Redirect URIs
are matched exactly. Without --jwks the client authenticates with a client
secret, printed once and kept only as a hash; with --jwks (a JSON Web Key
Set of public keys) it authenticates with private_key_jwt. --scope
national_id lets the client receive the national number. Runs only while
thiqa serve is stopped.`,
		Example: `  thiqa admin agency oidc-client add --name-ar "وزارة العدل" --name-en "Ministry of Justice" --redirect-uri https://moj.example.jo/callback --scope national_id`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if jwksFile != "" {
				b, err := os.ReadFile(jwksFile)
				if err != nil {
					return err
				}
				r.JWKS = b
			}
			nd, _, err := node.Open(cmd.Context(), g.nodeOptions(false, nil))
			if errors.Is(err, node.ErrLocked) {
				return fmt.Errorf("%w: stop thiqa serve first", err)
			}
			if err != nil {
				return err
			}
			defer nd.Close()
			reg, ok := nd.Store.(oidc.Registry)
			if !ok {
				return errors.New("oidc clients are kept only in the embedded store")
			}
			c, secret, err := oidc.Register(cmd.Context(), reg, r, nil, time.Now())
			if err != nil {
				return err
			}
			// An admin change: who let which portal sign citizens in, with
			// which redirect URIs and scopes.
			_, err = nd.Audit.Append(cmd.Context(), audit.Event{Actor: "operator:" + operatorName(), Action: "oidc.client-add",
				Subject: "oidc-client:" + c.ID, Details: map[string]any{"name_en": c.NameEn, "name_ar": c.NameAr,
					"redirect_uris": c.RedirectURIs, "scopes": c.Scopes, "auth_method": c.AuthMethod, "sector": c.Sector}})
			if err != nil {
				return fmt.Errorf("oidc client %s added, but the audit log did not record it: %w", c.ID, err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "oidc client %s added: %s / %s (%s)\n", c.ID, c.NameEn, c.NameAr, c.AuthMethod)
			fmt.Fprintf(out, "redirect URIs: %s\n", strings.Join(c.RedirectURIs, " "))
			if nd.OIDC != nil {
				fmt.Fprintf(out, "issuer: %s\n", nd.OIDC.Issuer())
			}
			if secret != "" {
				fmt.Fprintf(out, "client secret (shown once): %s\n", secret)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&r.NameAr, "name-ar", "", "agency name in Arabic (required)")
	f.StringVar(&r.NameEn, "name-en", "", "agency name in English (required)")
	f.StringSliceVar(&r.RedirectURIs, "redirect-uri", nil, "redirect URI, exact match (repeatable, required)")
	f.StringSliceVar(&r.PostLogoutRedirectURIs, "post-logout-uri", nil, "post-logout redirect URI (repeatable)")
	f.StringSliceVar(&r.Scopes, "scope", nil, "extra scopes granted: national_id")
	f.StringVar(&r.BackChannelLogoutURI, "backchannel-logout-uri", "", "URI that receives logout tokens when the citizen signs out anywhere")
	f.StringVar(&r.Sector, "sector", "", "pairwise-subject sector shared with other clients (default: own)")
	f.StringVar(&jwksFile, "jwks", "", "JSON Web Key Set file for private_key_jwt")
	cmd.MarkFlagRequired("name-ar")
	cmd.MarkFlagRequired("name-en")
	cmd.MarkFlagRequired("redirect-uri")
	return cmd
}
