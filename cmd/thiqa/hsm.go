package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/hsm/pkcs11"
)

// hsmURI returns the PKCS#11 URI of --hsm or $THIQA_HSM.
func (g *globals) hsmURI() string {
	if g.hsm != "" {
		return g.hsm
	}
	return os.Getenv("THIQA_HSM")
}

func newHSMCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hsm",
		Short: "Operate the hardware security module (PKCS#11)",
		Long: `hsm operates the PKCS#11 token named by --hsm (or $THIQA_HSM), a URI such as

  pkcs11:token=thiqa?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/thiqa/hsm-pin

The token holds the CA, TSA and OCSP keys and the key-encryption key under
which citizens' keys are wrapped. See docs/HSM.md for the key ceremony.
rotate-kek also rotates the software backend's key-encryption key (no --hsm).`,
		Example: `  thiqa hsm status --hsm 'pkcs11:token=thiqa?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/thiqa/hsm-pin'
  THIQA_HSM='pkcs11:token=thiqa?…' thiqa init`,
	}
	cmd.AddCommand(newHSMStatusCmd(g), newHSMRotateKEKCmd(g))
	return cmd
}

// errNoKEK is returned (exit status 3) when the token works but holds no
// key-encryption key, so that monitoring notices.
var errNoKEK = errors.New("the token holds no key-encryption key: citizens' keys cannot be made or used")

func newHSMStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the token, the keys on it and its key-encryption keys",
		Long: `status logs in to the token and prints its identity, the keys it holds and
the generations of key-encryption key (the last one wraps new citizen keys).
It works while thiqa serve runs. Exit status: 0 when the token is usable, 3
when it holds no key-encryption key, 1 on any other error (wrong PIN, token
or module missing).`,
		Example: `  thiqa hsm status --hsm 'pkcs11:token=thiqa?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/thiqa/hsm-pin'`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			uri := g.hsmURI()
			if uri == "" {
				return errors.New("hsm status: no token: give --hsm URI or set THIQA_HSM")
			}
			c, err := pkcs11.OpenURI(cmd.Context(), uri, nil)
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			printHSMStatus(cmd.OutOrStdout(), st)
			if len(st.KEKs) == 0 {
				return exitError{code: 3, err: errNoKEK}
			}
			return nil
		},
	}
}

func printHSMStatus(w io.Writer, st pkcs11.Status) {
	fmt.Fprintf(w, "token     %s (serial %s, slot %d)\n", st.Token, st.Serial, st.Slot)
	fmt.Fprintf(w, "device    %s %s\n", st.Manufacturer, st.Model)
	fmt.Fprintf(w, "sessions  %d in the pool\n", st.Sessions)
	fmt.Fprintf(w, "keys      %d on the token\n", len(st.Keys))
	for _, k := range st.Keys {
		fmt.Fprintf(w, "          %s\n", k)
	}
	if len(st.KEKs) == 0 {
		fmt.Fprintln(w, "KEK       none")
		return
	}
	for i, k := range st.KEKs {
		state := "retired: re-wrap remaining blobs, then destroy"
		if i == len(st.KEKs)-1 {
			state = "current, " + st.WrapMechanism
		}
		fmt.Fprintf(w, "KEK       %s (%s)\n", k, state)
	}
}
