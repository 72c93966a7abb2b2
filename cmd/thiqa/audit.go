package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/internal/node"
)

// auditNode opens the data directory for the audit commands. They read
// the store directly, so they need the server stopped (bbolt admits one
// process) or a copy of the data directory, e.g. a restored backup.
func (g *globals) auditNode(cmd *cobra.Command) (*node.Node, error) {
	n, _, err := node.Open(cmd.Context(), g.nodeOptions(false, nil))
	if errors.Is(err, node.ErrLocked) {
		return nil, fmt.Errorf("%w: stop thiqa serve, or run the command on a copy of the data directory (--data); "+
			"the running server publishes GET /audit/checkpoint and /audit/key", err)
	}
	return n, err
}

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check the tamper-evident audit log: verify, checkpoint, show",
		Long: `audit works on the audit log of the data directory: every security event is a
record in a Merkle tree whose signed checkpoints thiqa serve publishes at
/audit/checkpoint, with inclusion and consistency proofs under /audit/proof/.

checkpoint and show read the store directly: stop thiqa serve first, or point
--data at a copy of the data directory (a restored backup). verify asks a
running server to verify its own log through the admin socket.`,
		Example: `  thiqa audit verify
  thiqa audit verify --key "thiqa.jo/audit+1a2b3c4d+AjBZ…"
  thiqa audit checkpoint --sign
  thiqa audit show 42`,
	}
	cmd.AddCommand(newAuditVerifyCmd(g), newAuditCheckpointCmd(g), newAuditShowCmd(g))
	return cmd
}

func newAuditVerifyCmd(g *globals) *cobra.Command {
	var vkey string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit log's tree and check it against its signed checkpoints",
		Long: `verify reads every record in index order, checks that it parses, sits at its
index and matches its details' digest and its stored leaf and tree nodes, and
checks the tree's root at every signed checkpoint. It prints the first bad
record or checkpoint and exits 1; it exits 0 when everything matches.

When thiqa serve runs, the server verifies its log up to the size it has
when asked, while it keeps appending (records planted beyond that are only
found on a stopped node or a backup).

By default checkpoints are checked with the data directory's own audit key.
Pass --key with the verifier key published earlier (GET /audit/key, kept
elsewhere) to detect a checkpoint re-signed by someone holding the data
directory and its key-encryption key.`,
		Example: "  thiqa audit verify\n  thiqa audit verify --data /restore/thiqa-data --key \"$(cat audit.vkey)\"",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, _, err := node.Open(cmd.Context(), g.nodeOptions(false, nil))
			if errors.Is(err, node.ErrLocked) {
				return g.verifyLive(cmd, vkey)
			}
			if err != nil {
				return err
			}
			defer n.Close()
			v := n.Audit.Verifier()
			if vkey != "" {
				if v, err = audit.ParseVerifierKey(vkey); err != nil {
					return exitError{3, err}
				}
			}
			rep, err := audit.Verify(cmd.Context(), n.Store, v)
			out := cmd.OutOrStdout()
			var ie *audit.IntegrityError
			if errors.As(err, &ie) {
				fmt.Fprintf(out, "FAIL %s\n", ie)
				fmt.Fprintf(out, "checked %d records and %d checkpoints before it\n", rep.Records, rep.Checkpoints)
				return exitError{1, fmt.Errorf("audit log does not verify: %w", ie)}
			}
			if err != nil {
				return err
			}
			printReport(out, rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&vkey, "key", "", "verifier key of the checkpoints (default: the data directory's audit key)")
	return cmd
}

// verifyLive asks the running server to verify its log (audit.VerifyLive).
func (g *globals) verifyLive(cmd *cobra.Command, vkey string) error {
	resp, err := g.adminGet(cmd.Context(), "/audit/verify?key="+url.QueryEscape(vkey))
	if err != nil {
		return fmt.Errorf("verify through the running server: %w", err)
	}
	defer resp.Body.Close()
	var res audit.VerifyResult
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil {
		return fmt.Errorf("verify through the running server: %w", err)
	}
	out := cmd.OutOrStdout()
	if res.Problem != nil {
		fmt.Fprintf(out, "FAIL %s\n", res.Problem)
		fmt.Fprintf(out, "checked %d records and %d checkpoints before it\n", res.Records, res.Checkpoints)
		return exitError{1, fmt.Errorf("audit log does not verify: %w", res.Problem)}
	}
	fmt.Fprintf(out, "OK %d records, %d signed checkpoints (verified by the running server, up to its head when it started)\n", res.Records, res.Checkpoints)
	if res.Checkpoints > 0 {
		fmt.Fprintf(out, "latest checkpoint: size %d, root %x, %s\n", res.LatestSize, res.LatestRoot, res.LatestTime)
	}
	return nil
}

func printReport(w io.Writer, rep audit.Report) {
	fmt.Fprintf(w, "OK %d records, %d signed checkpoints\n", rep.Records, rep.Checkpoints)
	if rep.Latest != nil {
		fmt.Fprintf(w, "latest checkpoint: size %d, root %x, %s\n", rep.Latest.Size, rep.Latest.Root, rep.Latest.Time.Format(time.RFC3339))
		if after := rep.Records - rep.Latest.Size; after > 0 {
			fmt.Fprintf(w, "%d records after it are not yet under a signed checkpoint\n", after)
		}
	}
}

func newAuditCheckpointCmd(g *globals) *cobra.Command {
	var sign bool
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Print the latest signed checkpoint and the verifier key",
		Long: `checkpoint prints the latest signed checkpoint (a C2SP signed note) and the
verifier key that checks it. With --sign it first signs a checkpoint of the
log's current size, if the latest does not already cover it.`,
		Example: "  thiqa audit checkpoint\n  thiqa audit checkpoint --sign",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := g.auditNode(cmd)
			if err != nil {
				return err
			}
			defer n.Close()
			var c audit.Checkpoint
			if sign {
				c, err = n.Audit.Checkpoint(cmd.Context())
			} else {
				c, err = n.Audit.Latest(cmd.Context())
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\nverifier key: %s\n", c.Note, n.Audit.Verifier().Key())
			return nil
		},
	}
	cmd.Flags().BoolVar(&sign, "sign", false, "sign a checkpoint of the current size first")
	return cmd
}

func newAuditShowCmd(g *globals) *cobra.Command {
	var details bool
	cmd := &cobra.Command{
		Use:   "show INDEX",
		Short: "Show one audit record (and, with --details, its stored details)",
		Long: `show prints the record at INDEX as JSON with its leaf hash. Details may hold
personal data: they are printed only with --details, and only while their
retention period lasts.`,
		Example: "  thiqa audit show 42\n  thiqa audit show 42 --details",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			i, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return exitError{3, fmt.Errorf("record index %q is not a number", args[0])}
			}
			n, err := g.auditNode(cmd)
			if err != nil {
				return err
			}
			defer n.Close()
			rec, d, err := n.Audit.Entry(cmd.Context(), i)
			if err != nil {
				return err
			}
			enc, err := rec.Marshal()
			if err != nil {
				return err
			}
			out := map[string]any{"record": rec, "leaf_hash": fmt.Sprintf("%x", audit.LeafHash(enc))}
			if details && d != nil {
				out["details"] = json.RawMessage(d.Data)
				out["retain_until"] = d.RetainUntil
			}
			e := json.NewEncoder(cmd.OutOrStdout())
			e.SetIndent("", "  ")
			return e.Encode(out)
		},
	}
	cmd.Flags().BoolVar(&details, "details", false, "also print the event's details (personal data)")
	return cmd
}
