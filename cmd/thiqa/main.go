// Command thiqa runs and operates Thiqa, the national digital-identity and
// e-signature trust service. It only wires flags and configuration to the
// library packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "thiqa:", err)
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// globals are the flags every command shares.
type globals struct {
	dataDir string
	kekFile string
	hsm     string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "thiqa",
		Short: "Thiqa (ثقة): national digital identity and e-signature trust service",
		Long: `Thiqa is a national digital-identity and e-signature trust service.

Citizens activate a digital identity in person at a service centre, then sign
in to e-services and sign documents with a passkey on their phone. Agencies
send documents to be signed and verify signed PDFs. A certificate authority
issues citizens' certificates; a signing API makes PAdES signatures.

With no configuration, Thiqa keeps everything in one data directory
(./thiqa-data, or $THIQA_DATA, or --data): an embedded store, and software
keys encrypted under a key-encryption key (the file <data>/kek, or --kek-file,
or the base64 key in $THIQA_KEK).`,
		Example: `  # Run a pilot on this machine: creates ./thiqa-data on first start.
  thiqa serve

  # Run the key ceremony explicitly, with your own names and URLs.
  thiqa init --organization "Thiqa" --public-url https://pki.example.jo

  # Revoke a certificate while the server runs.
  thiqa ca revoke 4f1c…9a --reason keyCompromise`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defData := os.Getenv("THIQA_DATA")
	if defData == "" {
		defData = "thiqa-data"
	}
	root.PersistentFlags().StringVar(&g.dataDir, "data", defData, "data directory (env THIQA_DATA)")
	root.PersistentFlags().StringVar(&g.kekFile, "kek-file", "", "key-encryption key file (default <data>/kek; env THIQA_KEK holds the key itself)")
	root.PersistentFlags().StringVar(&g.hsm, "hsm", "", "PKCS#11 URI of the token holding the keys, instead of software keys (env THIQA_HSM; see docs/HSM.md)")
	root.AddCommand(newInitCmd(g), newServeCmd(g), newCACmd(g), newAuditCmd(g), newAdminCmd(g), newVerifyCmd(g), newBackupCmd(g), newRestoreCmd(g), newHSMCmd(g), newSignCmdWith(g), newSandboxGatewayCmd())
	return root
}
