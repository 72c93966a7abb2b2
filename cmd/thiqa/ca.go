package main

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/store"
)

// operator opens the data directory in process, or, when a running server
// holds it, talks to that server through its admin socket.
func (g *globals) operator(cmd *cobra.Command) (ca.Operator, func(), error) {
	n, _, err := node.Open(cmd.Context(), g.nodeOptions(false, nil))
	if err == nil {
		return n.CA, func() { n.Close() }, nil
	}
	if !errors.Is(err, node.ErrLocked) {
		return nil, nil, err
	}
	c, derr := ca.DialAdmin(node.AdminSocket(g.dataDir))
	if derr != nil {
		return nil, nil, fmt.Errorf("%w, and its admin socket does not answer: %w", err, derr)
	}
	return c, func() {}, nil
}

// onCertificate parses the serial argument, reaches the operator and calls
// fn with both: the shape of every single-certificate command.
func (g *globals) onCertificate(cmd *cobra.Command, arg string, fn func(op ca.Operator, serial *big.Int) error) error {
	serial, err := ca.ParseSerial(arg)
	if err != nil {
		return err
	}
	op, done, err := g.operator(cmd)
	if err != nil {
		return err
	}
	defer done()
	return fn(op, serial)
}

func newCACmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Operate the certificate authority: list, show, revoke, CRLs, issue",
		Long: `ca operates the certificate authority of the data directory. When thiqa serve
runs on it, the commands go through the server's admin socket; otherwise they
open the data directory themselves.`,
		Example: `  thiqa ca list --issuer citizen-ca
  thiqa ca revoke 4f1c09a2… --reason keyCompromise
  thiqa ca crl org-ca --out org-ca.crl.pem`,
	}
	cmd.AddCommand(newCAListCmd(g), newCAShowCmd(g), newCARevokeCmd(g), newCAReleaseCmd(g), newCACRLCmd(g), newCAIssueCmd(g))
	return cmd
}

func newCAListCmd(g *globals) *cobra.Command {
	var (
		issuer, after string
		limit         int
	)
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List issued certificates in serial order",
		Example: "  thiqa ca list\n  thiqa ca list --issuer org-ca --limit 20 --after 3f2a…",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			op, done, err := g.operator(cmd)
			if err != nil {
				return err
			}
			defer done()
			certs, err := op.List(cmd.Context(), issuer, store.Page{After: after, Limit: limit})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SERIAL\tISSUER\tPROFILE\tSTATUS\tNOT AFTER\tSUBJECT")
			for _, c := range certs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Serial, c.Issuer, c.Profile, c.Status, c.NotAfter.Format(time.DateOnly), c.Subject)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&issuer, "issuer", "", "only certificates of this CA (citizen-ca, org-ca)")
	cmd.Flags().StringVar(&after, "after", "", "start after this serial (paging)")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many (up to 1000)")
	return cmd
}

func newCAShowCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "show SERIAL",
		Short:   "Show one certificate: status, dates, subject, PEM",
		Example: "  thiqa ca show 4f1c09a2…\n  thiqa ca show 4f1c09a2… --format json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.onCertificate(cmd, args[0], func(op ca.Operator, serial *big.Int) error {
				c, err := op.Lookup(cmd.Context(), serial)
				if err != nil {
					return err
				}
				return printCertificate(cmd.OutOrStdout(), c, format)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func printCertificate(w io.Writer, c store.Certificate, format string) error {
	switch format {
	case "json":
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(c)
	case "text":
	default:
		return exitError{3, fmt.Errorf("unknown format %q (text or json)", format)}
	}
	fmt.Fprintf(w, "serial:     %s\nissuer:     %s\nprofile:    %s\nsubject:    %s\nnot before: %s\nnot after:  %s\nstatus:     %s\n",
		c.Serial, c.Issuer, c.Profile, c.Subject, c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339), c.Status)
	if c.Status != store.StatusValid {
		fmt.Fprintf(w, "revoked at: %s\nreason:     %s\n", c.RevokedAt.Format(time.RFC3339), ca.Reason(c.Reason))
	}
	return pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: c.DER})
}

func newCARevokeCmd(g *globals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke SERIAL --reason REASON",
		Short: "Revoke a certificate (final), or suspend it with --reason certificateHold",
		Long: `revoke revokes a certificate with an RFC 5280 reason. The CRL of its CA is
regenerated and OCSP answers "revoked" before the command returns. Revocation
is final; --reason certificateHold suspends instead (undo with thiqa ca release).

Reasons: ` + fmt.Sprint(ca.ReasonNames()),
		Example: "  thiqa ca revoke 4f1c09a2… --reason keyCompromise\n  thiqa ca revoke 4f1c09a2… --reason certificateHold",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := ca.ParseReason(reason)
			if err != nil {
				return exitError{3, err}
			}
			return g.onCertificate(cmd, args[0], func(op ca.Operator, serial *big.Int) error {
				c, err := op.Revoke(cmd.Context(), serial, r)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (%s) at %s\n", c.Serial, c.Status, ca.Reason(c.Reason), c.RevokedAt.Format(time.RFC3339))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "RFC 5280 reason (required)")
	cmd.MarkFlagRequired("reason")
	cmd.RegisterFlagCompletionFunc("reason", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return ca.ReasonNames(), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func newCAReleaseCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "release SERIAL",
		Short:   "Take a suspended (certificateHold) certificate off hold",
		Example: "  thiqa ca release 4f1c09a2…",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.onCertificate(cmd, args[0], func(op ca.Operator, serial *big.Int) error {
				c, err := op.Release(cmd.Context(), serial)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", c.Serial, c.Status)
				return nil
			})
		},
	}
}

func newCACRLCmd(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "crl [CA]",
		Short: "Issue a fresh CRL now (default: citizen-ca) and write it out",
		Long: `crl issues a new CRL for the named CA (root, citizen-ca, org-ca) and writes it
in PEM to standard output or --out. CRLs are also regenerated on every
revocation and every hour by thiqa serve.`,
		Example:   "  thiqa ca crl\n  thiqa ca crl org-ca --out org-ca.crl.pem",
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: []string{ca.Root, ca.CitizenCA, ca.OrgCA},
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ca.CitizenCA
			if len(args) == 1 {
				name = args[0]
			}
			op, done, err := g.operator(cmd)
			if err != nil {
				return err
			}
			defer done()
			crl, err := op.FreshCRL(cmd.Context(), name)
			if err != nil {
				return err
			}
			b := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl.DER})
			fmt.Fprintf(cmd.ErrOrStderr(), "CRL %s number %d, next update %s\n", name, crl.Number, crl.NextUpdate.Format(time.RFC3339))
			return writeOut(cmd, out, b)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write (default standard output)")
	return cmd
}

func newCAIssueCmd(g *globals) *cobra.Command {
	var profile, csrFile, subjectFile, out string
	cmd := &cobra.Command{
		Use:   "issue --profile PROFILE --csr FILE --subject-json FILE",
		Short: "Issue a certificate from a CSR (tests, agencies' e-seals)",
		Long: `issue issues an end-entity certificate for the key in a PKCS#10 CSR (PEM or
DER). The CSR proves possession of the key; the subject comes from a JSON
file and is checked against the profile. Profiles: citizen-signing,
citizen-auth, eseal. Subject fields:

  citizens: national_id (10 digits), given_name, surname (Latin letters),
            given_name_ar, surname_ar (Arabic script)
  e-seals:  organization, organization_identifier (e.g. GOVJO-100200300),
            common_name (optional)`,
		Example: `  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout agency.key -subj /CN=ignored -out agency.csr
  echo '{"organization":"Ministry of Health","organization_identifier":"GOVJO-100200300"}' > seal.json
  thiqa ca issue --profile eseal --csr agency.csr --subject-json seal.json --out agency.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			csr, err := os.ReadFile(csrFile)
			if err != nil {
				return exitError{3, err}
			}
			subject, err := readSubject(subjectFile)
			if err != nil {
				return exitError{3, err}
			}
			op, done, err := g.operator(cmd)
			if err != nil {
				return err
			}
			defer done()
			cert, err := op.IssueFromCSR(cmd.Context(), ca.Profile(profile), csr, subject)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "issued %s for %s\n", ca.SerialString(cert.SerialNumber), cert.Subject)
			return writeOut(cmd, out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
		},
	}
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "", "citizen-signing, citizen-auth or eseal")
	f.StringVar(&csrFile, "csr", "", "PKCS#10 request, PEM or DER")
	f.StringVar(&subjectFile, "subject-json", "", "subject fields as JSON")
	f.StringVar(&out, "out", "", "file to write the PEM certificate to (default standard output)")
	for _, name := range []string{"profile", "csr", "subject-json"} {
		cmd.MarkFlagRequired(name)
	}
	cmd.RegisterFlagCompletionFunc("profile", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, p := range ca.Profiles {
			names = append(names, string(p))
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func readSubject(path string) (ca.Subject, error) {
	var s ca.Subject
	f, err := os.Open(path)
	if err != nil {
		return s, err
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("subject JSON %s: %w", path, err)
	}
	return s, nil
}

// writeOut writes b to the file out (atomically: temp file and rename) or
// to standard output when out is empty.
func writeOut(cmd *cobra.Command, out string, b []byte) error {
	if out == "" {
		_, err := cmd.OutOrStdout().Write(b)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".thiqa-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
