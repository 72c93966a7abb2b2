package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/node"
)

func newHSMRotateKEKCmd(g *globals) *cobra.Command {
	var (
		ro       node.RotateOptions
		progress bool
	)
	cmd := &cobra.Command{
		Use:   "rotate-kek",
		Short: "Move every key to a new key-encryption key (software or PKCS#11; resumable)",
		Long: `rotate-kek replaces the key-encryption key (KEK) that protects Thiqa's keys and
moves everything it protects to the new one: citizens' wrapped signing and
authentication keys and officers' sealed TOTP secrets in the store and, for
the software backend, the custody keys (CAs, OCSP, TSA, audit) in <data>/keys.
Stop thiqa serve first (with PostgreSQL, every replica).

Software backend (no --hsm): a new random KEK is written to <kek>.next, the
custody keys are re-sealed into <data>/keys.next, the store's keys and
secrets are moved, and then the new KEK and key directory replace the old
ones, which are kept as <kek>.old and <data>/keys.old. Keep those until the
node is checked and a backup with the new KEK is made, then destroy them:
the next rotation refuses to start while they exist. Until the switch, thiqa
refuses to open the data directory; if the rotation stops (Ctrl-C, a crash),
run it again: it resumes where it stopped. The KEK must be in a file
(--kek-file or <data>/kek), not in THIQA_KEK. With replicas on PostgreSQL,
copy the new kek and keys to every replica afterwards.

PKCS#11 (--hsm): the token makes the next generation of KEK (thiqa-kek-N),
every wrapped key and sealed secret is moved to it, and with --destroy-old the
older generations are destroyed once nothing uses them. To resume a stopped
rotation without making yet another generation, pass --resume.`,
		Example: `  thiqa hsm rotate-kek --data /var/lib/thiqa
  thiqa hsm rotate-kek --data /var/lib/thiqa --kek-file /secure/thiqa.kek
  thiqa hsm rotate-kek --store postgres://thiqa@db.internal/thiqa --hsm 'pkcs11:token=thiqa?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/thiqa/hsm-pin' --destroy-old
  thiqa hsm rotate-kek --hsm 'pkcs11:…' --resume`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.hsmURI() == "" && (ro.Resume || ro.DestroyOld) {
				return errors.New("--resume and --destroy-old are for a PKCS#11 token (--hsm); the software rotation resumes by itself")
			}
			ro.Operator = operatorName()
			stderr := cmd.ErrOrStderr()
			bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("re-wrapping"),
				progressbar.OptionSetVisibility(progress), progressbar.OptionThrottle(250*time.Millisecond), progressbar.OptionShowCount(),
				progressbar.OptionSetItsString("identities"), progressbar.OptionShowIts())
			ro.Progress = func(p enrollment.RewrapProgress) {
				bar.Set(p.Identities)
				bar.Describe(fmt.Sprintf("re-wrapping: %d keys moved, %d officer secrets moved", p.KeysMoved, p.SecretsMoved))
			}
			rep, err := node.RotateKEK(cmd.Context(), g.nodeOptions(false, nil), ro)
			bar.Finish()
			fmt.Fprintln(stderr)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			r := rep.Rewrap
			fmt.Fprintf(out, "key-encryption key rotated: %s\n", rep.KEK)
			if g.hsmURI() == "" {
				fmt.Fprintf(out, "custody keys re-sealed: %d\n", rep.Keys)
			}
			fmt.Fprintf(out, "citizens: %d, wrapped keys %d (%d moved now); officers: %d, sealed secrets %d (%d moved now)\n",
				r.Identities, r.Keys, r.KeysMoved, r.Officers, r.Secrets, r.SecretsMoved)
			if len(rep.Destroyed) > 0 {
				fmt.Fprintf(out, "destroyed the old generations: %s\n", strings.Join(rep.Destroyed, ", "))
			}
			if rep.OldKEK != "" {
				fmt.Fprintf(out, "the previous KEK is kept in %s and its keys in %s:\ncheck the node, back it up with the new KEK, then destroy both.\n", rep.OldKEK, rep.OldKeys)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&ro.Resume, "resume", false, "PKCS#11: move everything to the token's newest KEK without making another")
	cmd.Flags().BoolVar(&ro.DestroyOld, "destroy-old", false, "PKCS#11: destroy the older KEK generations once nothing uses them")
	cmd.Flags().BoolVar(&progress, "progress", true, "show progress on standard error")
	storeFlag(cmd)
	return cmd
}
