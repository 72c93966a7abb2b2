package main

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os/user"
	"strings"

	"github.com/spf13/cobra"
	"rsc.io/qr"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/store"
)

// enrollmentOffline opens the data directory for an admin command. These
// commands work only while no thiqa serve runs on it: with the server
// running, an admin uses the API (POST /api/v1/centres, /api/v1/officers).
func (g *globals) enrollmentOffline(cmd *cobra.Command) (*enrollment.Service, func(), error) {
	n, _, err := node.Open(cmd.Context(), g.nodeOptions(false, nil))
	if errors.Is(err, node.ErrLocked) {
		return nil, nil, fmt.Errorf("%w: stop thiqa serve first, or use the API as an admin (POST /api/v1/officers)", err)
	}
	if err != nil {
		return nil, nil, err
	}
	return n.Enrollment, func() { n.Close() }, nil
}

// operatorName names the local operator in the enrollment events.
func operatorName() string {
	if u, err := user.Current(); err == nil {
		return "cli-" + u.Username
	}
	return "cli"
}

func newAdminCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Administer service centres and officer accounts (offline)",
		Long: `admin creates service centres and officer accounts in the data directory.
It opens the store itself, so it runs only while thiqa serve is stopped; with
the server running, an officer with the admin role does the same through the
API. Create the first admin here before the first thiqa serve.`,
		Example: `  thiqa admin centre add --code AMM-01 --name-en "Amman Centre 1" --name-ar "مركز عمان ١" --governorate Amman
  thiqa admin officer add --username root --role admin
  thiqa admin officer add --username omar --role officer --centre AMM-01`,
	}
	centre := &cobra.Command{Use: "centre", Short: "Service centres", Example: "  thiqa admin centre list"}
	centre.AddCommand(newAdminCentreAddCmd(g), newAdminCentreListCmd(g))
	officer := &cobra.Command{Use: "officer", Short: "Officer accounts", Example: "  thiqa admin officer add --username omar --centre AMM-01"}
	officer.AddCommand(newAdminOfficerAddCmd(g), newAdminOfficerDisableCmd(g))
	cmd.AddCommand(centre, officer, newAdminAgencyCmd(g), newAdminImportCmd(g), newAdminGenerateCmd(), newAdminCatalogueCmd(g), newAdminPaymentsCmd(g), newAdminOIDCKeyCmd(g))
	return cmd
}

func newAdminCentreAddCmd(g *globals) *cobra.Command {
	var c store.Centre
	cmd := &cobra.Command{
		Use:     "add",
		Short:   "Add a service centre",
		Example: `  thiqa admin centre add --code AMM-01 --name-en "Amman Centre 1" --name-ar "مركز عمان ١" --governorate Amman`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, done, err := g.enrollmentOffline(cmd)
			if err != nil {
				return err
			}
			defer done()
			c, err := svc.CreateCentre(cmd.Context(), enrollment.Operator(operatorName()), c)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "centre %s added: %s / %s (%s)\n", c.Code, c.NameEn, c.NameAr, c.Governorate)
			return nil
		},
	}
	cmd.Flags().StringVar(&c.Code, "code", "", "centre code, e.g. AMM-01 (required)")
	cmd.Flags().StringVar(&c.NameEn, "name-en", "", "name in English (required)")
	cmd.Flags().StringVar(&c.NameAr, "name-ar", "", "name in Arabic (required)")
	cmd.Flags().StringVar(&c.Governorate, "governorate", "", "governorate (required)")
	for _, f := range []string{"code", "name-en", "name-ar", "governorate"} {
		cmd.MarkFlagRequired(f)
	}
	return cmd
}

func newAdminCentreListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the service centres",
		Example: "  thiqa admin centre list",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, done, err := g.enrollmentOffline(cmd)
			if err != nil {
				return err
			}
			defer done()
			cs, err := svc.Centres(cmd.Context())
			if err != nil {
				return err
			}
			for _, c := range cs {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%s\t%s\n", c.Code, c.Governorate, c.NameEn, c.NameAr)
			}
			return nil
		},
	}
}

func newAdminOfficerAddCmd(g *globals) *cobra.Command {
	var (
		n             enrollment.NewOfficer
		passwordStdin bool
	)
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Add an officer account; prints its TOTP enrolment (otpauth URL and QR)",
		Long: `add creates an officer account with the role officer, supervisor or admin.
Officers and supervisors belong to a centre. The password is read from
standard input with --password-stdin, otherwise a random one is generated and
printed once. The officer scans the printed QR code (or enters the otpauth
URL) in an authenticator app: sign-in needs the password and its 6-digit code.`,
		Example: `  thiqa admin officer add --username omar --role officer --centre AMM-01
  echo "$PASSWORD" | thiqa admin officer add --username sara --role supervisor --centre AMM-01 --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			generated := !passwordStdin
			if passwordStdin {
				line, err := bufio.NewReader(io.LimitReader(cmd.InOrStdin(), 1024)).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("read password: %w", err)
				}
				n.Password = strings.TrimRight(line, "\r\n")
			} else {
				var err error
				if n.Password, err = randomPassword(); err != nil {
					return err
				}
			}
			svc, done, err := g.enrollmentOffline(cmd)
			if err != nil {
				return err
			}
			defer done()
			enr, err := svc.CreateOfficer(cmd.Context(), enrollment.Operator(operatorName()), n)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "officer %s added (role %s", enr.Username, enr.Role)
			if enr.Centre != "" {
				fmt.Fprintf(out, ", centre %s", enr.Centre)
			}
			fmt.Fprintln(out, ")")
			if generated {
				fmt.Fprintf(out, "password: %s\n", n.Password)
			}
			fmt.Fprintf(out, "TOTP: %s\n", enr.TOTPURL)
			return printQR(out, enr.TOTPURL)
		},
	}
	cmd.Flags().StringVar(&n.Username, "username", "", "login name: 3-32 of a-z, 0-9, '.', '_', '-' (required)")
	cmd.Flags().StringVar(&n.Role, "role", "officer", "officer, supervisor or admin")
	cmd.Flags().StringVar(&n.Centre, "centre", "", "centre code (required for officers and supervisors)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password (12-256 bytes) from standard input")
	cmd.MarkFlagRequired("username")
	return cmd
}

func newAdminOfficerDisableCmd(g *globals) *cobra.Command {
	var user, why string
	cmd := &cobra.Command{
		Use:     "disable",
		Short:   "Disable an officer account at once; its sessions end",
		Example: `  thiqa admin officer disable --username omar --why "left the service"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, done, err := g.enrollmentOffline(cmd)
			if err != nil {
				return err
			}
			defer done()
			if err := svc.DisableOfficer(cmd.Context(), enrollment.Operator(operatorName()), user, why); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "officer %s disabled\n", user)
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "username", "", "the officer (required)")
	cmd.Flags().StringVar(&why, "why", "", "the reason, kept in the event trail (required)")
	cmd.MarkFlagRequired("username")
	cmd.MarkFlagRequired("why")
	return cmd
}

// randomPassword makes a 20-character password (about 119 bits).
func randomPassword() (string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// printQR draws text as a QR code with half-block characters, two modules
// a line, with a quiet zone.
func printQR(w io.Writer, text string) error {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return fmt.Errorf("qr code: %w", err)
	}
	const quiet = 2
	dark := func(x, y int) bool {
		x, y = x-quiet, y-quiet
		return x >= 0 && y >= 0 && x < c.Size && y < c.Size && c.Black(x, y)
	}
	var b strings.Builder
	for y := 0; y < c.Size+2*quiet; y += 2 {
		for x := 0; x < c.Size+2*quiet; x++ {
			// Light modules are drawn as blocks: the code reads on a dark
			// terminal.
			switch top, bottom := !dark(x, y), !dark(x, y+1); {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteRune(' ')
			}
		}
		b.WriteByte('\n')
	}
	_, err = io.WriteString(w, b.String())
	return err
}
