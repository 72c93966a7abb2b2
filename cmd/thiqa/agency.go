package main

import (
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/signing"
)

// newAdminAgencyCmd returns "thiqa admin agency": agencies of the signing
// API.
func newAdminAgencyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "agency", Short: "Agencies that send documents to be signed (API clients)"}
	cmd.AddCommand(newAdminAgencyAddCmd(g), newAdminOIDCClientCmd(g))
	cmd.AddCommand(newAdminAgencyKeyCmds(g)...)
	return cmd
}

func newAdminAgencyAddCmd(g *globals) *cobra.Command {
	var (
		n        signing.NewAgency
		certFile string
	)
	cmd := &cobra.Command{
		Use:   "add --name NAME [--scope sign-requests,verify] [--webhook URL] [--cert ESEAL.pem]",
		Short: "Register an agency and print its API key (shown once)",
		Long: `add registers an agency of the signing API. Its API key is printed once and
kept only as a hash: store it in the agency's secret store now. The webhook
secret signs the notifications sent to --webhook (HMAC-SHA256). With --cert,
the agency may also authenticate with mutual TLS using that e-seal
certificate. Runs only while thiqa serve is stopped.`,
		Example: `  thiqa admin agency add --name "Ministry of Justice" --scope sign-requests,verify --webhook https://moj.example.jo/thiqa`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if certFile != "" {
				der, err := readCertDER(certFile)
				if err != nil {
					return err
				}
				n.CertDER = der
			}
			nd, _, err := node.Open(cmd.Context(), g.nodeOptions(false, nil))
			if errors.Is(err, node.ErrLocked) {
				return fmt.Errorf("%w: stop thiqa serve first", err)
			}
			if err != nil {
				return err
			}
			defer nd.Close()
			n.By = "operator:" + operatorName()
			k, err := nd.Signing.AddAgency(cmd.Context(), n)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "agency %s added: %s (scopes %s)\n", k.Agency.ID, k.Agency.Name, strings.Join(k.Agency.Scopes, ","))
			fmt.Fprintf(out, "API key (shown once): %s\n", k.Key)
			fmt.Fprintf(out, "webhook secret (shown once): %s\n", k.WebhookSecret)
			return nil
		},
	}
	cmd.Flags().StringVar(&n.Name, "name", "", "agency name (required)")
	cmd.Flags().StringSliceVar(&n.Scopes, "scope", []string{signing.ScopeSignRequests}, "scopes: sign-requests, verify")
	cmd.Flags().StringVar(&n.WebhookURL, "webhook", "", "URL notified when a request is signed, rejected or failed")
	cmd.Flags().StringVar(&certFile, "cert", "", "the agency's e-seal certificate (PEM) for mutual TLS")
	cmd.MarkFlagRequired("name")
	return cmd
}

// readCertDER reads the first certificate of a PEM file.
func readCertDER(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("read certificate %s: no PEM CERTIFICATE block", path)
	}
	return blk.Bytes, nil
}
