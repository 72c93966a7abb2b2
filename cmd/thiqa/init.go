package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/node"
)

// caFlags binds the key ceremony's configuration to flags.
func caFlags(cmd *cobra.Command) *ca.Config {
	cfg := ca.DefaultConfig()
	f := cmd.Flags()
	f.StringVar(&cfg.Country, "country", cfg.Country, "ISO 3166 country code in names and QC statements")
	f.StringVar(&cfg.Organization, "organization", cfg.Organization, "trust service provider's name in CA names")
	f.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "base URL of the public endpoints (CRL, OCSP, CA certificates) written into certificates")
	f.StringVar(&cfg.PDSURL, "pds-url", "", "HTTPS base URL of the PKI disclosure statements (default: public URL's host over https + /pds)")
	f.StringVar(&cfg.PolicyArc, "policy-arc", cfg.PolicyArc, "OID arc of Thiqa's certificate policies (the default is a placeholder: allocate your own)")
	return &cfg
}

// storeURL is the store every command opens: "" for the embedded store in
// the data directory, or a postgres:// URL (--store on init and serve, env
// THIQA_STORE for every command).
var storeURL = os.Getenv("THIQA_STORE")

// storeFlag adds --store to cmd.
func storeFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&storeURL, "store", storeURL, "postgres:// URL of a PostgreSQL database shared by replicas, instead of the embedded store in the data directory (env THIQA_STORE)")
}

func (g *globals) nodeOptions(create bool, cfg *ca.Config) node.Options {
	o := node.Options{Dir: g.dataDir, KEKFile: g.kekFile, KEK: os.Getenv("THIQA_KEK"), HSM: g.hsmURI(), Create: create, Store: storeURL}
	if cfg != nil {
		o.CA = *cfg
	}
	return o
}

func newInitCmd(g *globals) *cobra.Command {
	var cfg *ca.Config
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Run the key ceremony: create the CAs, time-stamping unit and OCSP responders",
		Long: `init creates the data directory and runs the key ceremony: a root CA
(ECDSA P-384, 20 years), a citizen CA and an organisation (e-seal) CA (P-384,
10 years), a time-stamping unit, and an OCSP responder certificate for each
issuing CA. Keys are generated in key custody and never written in clear.
It prints each authority's SHA-256 fingerprint: record the root's in the
ceremony minutes.

init refuses to run twice on the same data directory. thiqa serve runs it
implicitly, with the defaults, on a fresh directory.`,
		Example: `  thiqa init
  thiqa init --data /var/lib/thiqa --public-url http://pki.example.jo --organization "Thiqa"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, created, err := node.Open(cmd.Context(), g.nodeOptions(true, cfg))
			if err != nil {
				return err
			}
			defer n.Close()
			if !created.Ceremony {
				return fmt.Errorf("%w in %s", ca.ErrInitialized, g.dataDir)
			}
			printCreated(cmd.OutOrStdout(), n, created)
			return nil
		},
	}
	cfg = caFlags(cmd)
	storeFlag(cmd)
	return cmd
}

// printCreated tells the operator what was made and where.
func printCreated(w io.Writer, n *node.Node, c node.Created) {
	if c.Dir {
		fmt.Fprintf(w, "created data directory %s\n", n.Dir)
	}
	if c.KEK {
		fmt.Fprintf(w, "created key-encryption key %s/kek (mode 0600): back it up apart from the data\n", n.Dir)
	}
	if c.Ceremony {
		fmt.Fprintln(w, "key ceremony done:")
	} else {
		fmt.Fprintln(w, "authorities:")
	}
	for _, a := range n.CA.Authorities() {
		fp := sha256.Sum256(a.Certificate.Raw)
		fmt.Fprintf(w, "  %-18s %-10s %s\n", a.Name, a.Role, fingerprint(fp[:]))
		fmt.Fprintf(w, "  %-18s %s\n", "", a.Certificate.Subject)
	}
}

func fingerprint(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":")
}
