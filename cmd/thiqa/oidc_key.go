package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/oidc"
)

// newAdminOIDCKeyCmd returns "thiqa admin oidc-key": the keys that sign the
// OpenID provider's ID tokens.
func newAdminOIDCKeyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "oidc-key",
		Short:   "Keys that sign the OpenID provider's ID tokens",
		Example: "  thiqa admin oidc-key rotate",
	}
	cmd.AddCommand(newAdminOIDCKeyRotateCmd(g))
	return cmd
}

func newAdminOIDCKeyRotateCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Make the next ID-token signing key (the previous one stays in the JWKS)",
		Long: `rotate makes the next ECDSA P-256 key that signs the OpenID provider's ID
tokens (oidc-signing-N) in key custody (the token with --hsm) and records the
rotation in the audit log. A thiqa serve started afterwards signs with the
new key and still publishes the previous one in its JWKS, so ID tokens signed
before the rotation keep verifying; the key before that leaves the JWKS.

Runs only while thiqa serve is stopped (the embedded store admits one
process); restart it afterwards. With replicas on PostgreSQL and software
keys, copy <data>/keys to every replica before restarting them; with a
PKCS#11 token every replica sees the new key at once. Rotate again no sooner
than the lifetime of the ID tokens after the previous rotation.`,
		Example: `  thiqa admin oidc-key rotate --data /var/lib/thiqa
  thiqa admin oidc-key rotate --store postgres://thiqa@db.internal/thiqa --hsm 'pkcs11:token=thiqa?…'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			nd, _, err := node.Open(ctx, g.nodeOptions(false, nil))
			if errors.Is(err, node.ErrLocked) {
				return fmt.Errorf("%w: stop thiqa serve first", err)
			}
			if err != nil {
				return err
			}
			defer nd.Close()
			id, err := oidc.Rotate(ctx, nd.Keys)
			if err != nil {
				return err
			}
			_, err = nd.Audit.Append(ctx, audit.Event{Actor: "operator:" + operatorName(), Action: "oidc.key-rotate",
				Subject: "key:" + string(id), Details: map[string]string{"key": string(id)}})
			if err != nil {
				return fmt.Errorf("key %s made, but the audit log did not record it: %w", id, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ID tokens are signed by %s once thiqa serve restarts; the previous key stays in the JWKS\n", id)
			return nil
		},
	}
	storeFlag(cmd)
	return cmd
}
