package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/platform/payments/sandbox"
)

// paymentsFlags adds serve's payment gateway flags and returns what opens
// payments on the node once it is open: nothing without --payments-gateway.
func paymentsFlags(cmd *cobra.Command) func(ctx context.Context, n *node.Node) error {
	var gatewayURL, secretFile, returnURL string
	cmd.Flags().StringVar(&gatewayURL, "payments-gateway", "", "base URL of the payment gateway (thiqa sandbox-gateway); without it fees cannot be paid")
	cmd.Flags().StringVar(&secretFile, "payments-secret-file", "", "file with the secret shared with the gateway, in hex")
	cmd.Flags().StringVar(&returnURL, "payments-return-url", "http://localhost:8080/app/", "where the gateway sends citizens after paying")
	return func(ctx context.Context, n *node.Node) error {
		if gatewayURL == "" {
			return nil
		}
		if secretFile == "" {
			return fmt.Errorf("--payments-gateway needs --payments-secret-file")
		}
		secret, err := readGatewaySecret(secretFile)
		if err != nil {
			return err
		}
		return n.OpenPayments(ctx, node.PaymentsOptions{GatewayURL: gatewayURL, Secret: secret, ReturnURL: returnURL})
	}
}

// readGatewaySecret reads the secret Thiqa and the payment gateway share
// from the file at path (hex, at least 32 bytes).
func readGatewaySecret(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gateway secret: %w", err)
	}
	secret, err := sandbox.LoadSecret(raw)
	if err != nil {
		return nil, fmt.Errorf("gateway secret %s: %w", path, err)
	}
	return secret, nil
}
