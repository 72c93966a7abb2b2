package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/platform/payments/sandbox"
)

// newSandboxGatewayCmd returns "thiqa sandbox-gateway": the test payment
// gateway as its own process.
func newSandboxGatewayCmd() *cobra.Command {
	var addr, secretFile, callbackURL, publicURL string
	cmd := &cobra.Command{
		Use:   "sandbox-gateway --secret-file F --callback-url URL [--addr 127.0.0.1:9090]",
		Short: "Run the sandbox payment gateway (checkout page, signed callbacks) for tests and pilots",
		Long: `sandbox-gateway runs a payment gateway that moves no money, as a separate
program so that payments go over real HTTP between two processes. Thiqa
registers an invoice with it (POST /v1/checkouts) and sends the citizen to
its checkout page (/checkout/{id}): card 4242 4242 4242 4242 pays, 4000 0000
0000 0002 is declined. The outcome is posted to --callback-url (Thiqa's
/api/v1/payments/callback) signed with HMAC-SHA256 over the timestamp and the
body (headers Sandbox-Timestamp and Sandbox-Signature); Thiqa's calls to the
gateway are signed the same way. The secret file holds at least 32 bytes in
hex, shared with thiqa serve (--payments-secret-file). Its records live in
memory. The address it listens on is printed on stdout.`,
		Example: `  openssl rand -hex 32 > gateway.secret
  thiqa sandbox-gateway --addr 127.0.0.1:9090 --secret-file gateway.secret \
      --callback-url http://127.0.0.1:8080/api/v1/payments/callback`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret, err := readGatewaySecret(secretFile)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			if publicURL == "" {
				publicURL = "http://" + ln.Addr().String()
			}
			logger := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			gw, err := sandbox.NewServer(sandbox.ServerOptions{Secret: secret, CallbackURL: callbackURL, PublicURL: publicURL, Logger: logger})
			if err != nil {
				ln.Close()
				return err
			}
			srv := &http.Server{Handler: gw.Handler(), ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(cmd.OutOrStdout(), "sandbox gateway listening on %s\n", publicURL)
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(ctx)
			}()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:9090", "address to listen on")
	cmd.Flags().StringVar(&secretFile, "secret-file", "", "file with the shared secret in hex (required)")
	cmd.Flags().StringVar(&callbackURL, "callback-url", "", "Thiqa's callback URL (required)")
	cmd.Flags().StringVar(&publicURL, "public-url", "", "the gateway's URL in checkout links (default http://ADDR)")
	cmd.MarkFlagRequired("secret-file")
	cmd.MarkFlagRequired("callback-url")
	return cmd
}
