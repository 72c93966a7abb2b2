package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/platform/payments"
	"github.com/thiqa/thiqa/platform/payments/sandbox"
)

// newAdminPaymentsCmd returns "thiqa admin payments".
func newAdminPaymentsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "payments", Short: "Fees paid through the payment gateway (reconciliation)",
		Example: "  thiqa admin payments reconcile --gateway-url http://127.0.0.1:9090 --secret-file gateway.secret"}
	cmd.AddCommand(newAdminPaymentsReconcileCmd(g))
	return cmd
}

func newAdminPaymentsReconcileCmd(g *globals) *cobra.Command {
	var gatewayURL, secretFile string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "reconcile [--gateway-url URL --secret-file F] [--json]",
		Short: "Compare Thiqa's paid invoices with the gateway's transactions",
		Long: `reconcile lists every payment as matched, missing in Thiqa (the gateway took
money no invoice records: a refused double payment, a lost callback),
missing at the gateway, or mismatched (amount, refunds or invoice differ).
It exits with status 3 when anything does not match. While thiqa serve runs
it asks the server through its admin socket, with the server's gateway;
otherwise it opens the store and needs --gateway-url and --secret-file.`,
		Example: `  thiqa admin payments reconcile --gateway-url http://127.0.0.1:9090 --secret-file gateway.secret --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := g.reconcile(cmd, gatewayURL, secretFile)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				enc.Encode(rep)
			} else {
				printReconciliation(cmd, rep)
			}
			if !rep.Clean() {
				return exitError{code: 3, err: errors.New("reconciliation found differences")}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&gatewayURL, "gateway-url", "", "the payment gateway's base URL (when serve is not running)")
	cmd.Flags().StringVar(&secretFile, "secret-file", "", "file with the secret shared with the gateway, in hex (when serve is not running)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// reconcile builds the report in process, or asks the running server.
func (g *globals) reconcile(cmd *cobra.Command, gatewayURL, secretFile string) (payments.Report, error) {
	var rep payments.Report
	nd, _, err := node.Open(cmd.Context(), g.nodeOptions(false, nil))
	if errors.Is(err, node.ErrLocked) {
		resp, err := g.adminGet(cmd.Context(), "/payments/reconciliation")
		if err != nil {
			return rep, err
		}
		defer resp.Body.Close()
		return rep, json.NewDecoder(resp.Body).Decode(&rep)
	}
	if err != nil {
		return rep, err
	}
	defer nd.Close()
	if gatewayURL == "" || secretFile == "" {
		return rep, errors.New("thiqa serve is not running: give --gateway-url and --secret-file")
	}
	secret, err := readGatewaySecret(secretFile)
	if err != nil {
		return rep, err
	}
	gw, err := sandbox.NewClient(gatewayURL, secret, sandbox.ClientOptions{})
	if err != nil {
		return rep, err
	}
	st, ok := nd.Store.(payments.Store)
	if !ok {
		return rep, errors.New("this store keeps no invoices")
	}
	return payments.New(st, gw, payments.Options{}).Reconcile(cmd.Context())
}

func printReconciliation(cmd *cobra.Command, rep payments.Report) {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "matched: %d, missing in Thiqa: %d, missing at the gateway: %d, mismatched: %d\n",
		len(rep.Matched), len(rep.MissingInThiqa), len(rep.MissingAtGateway), len(rep.Mismatched))
	for _, group := range []struct {
		name  string
		lines []payments.Line
	}{{"missing in Thiqa", rep.MissingInThiqa}, {"missing at the gateway", rep.MissingAtGateway}, {"mismatched", rep.Mismatched}} {
		for _, l := range group.lines {
			fmt.Fprintf(out, "%s: invoice %s transaction %s: %s\n", group.name, l.InvoiceID, l.TxnID, l.Problem)
		}
	}
}
