package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/internal/backup"
	"github.com/thiqa/thiqa/internal/node"
)

func newBackupCmd(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Write a consistent backup of the data directory, online",
		Long: `backup writes a tar archive of the data directory: a snapshot of the store
taken in one read transaction (the server keeps serving and writing), the key
files wrapped under the key-encryption key, and a manifest with every file's
SHA-256 and the audit log's latest signed checkpoint. When thiqa serve runs,
the archive comes through its admin socket; otherwise the command reads the
data directory itself. The archive is checked before it is renamed into
place.

The key-encryption key (<data>/kek or $THIQA_KEK) is NOT in the archive:
keep it apart, as docs/OPERATIONS.md describes.`,
		Example: "  thiqa backup --out /backup/thiqa-$(date +%F).tar",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := g.backup(cmd.Context(), out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup written to %s: store of %d bytes, %d key files\n", out, m.Files[backup.DBFile].Size, len(m.Files)-1)
			if m.AuditCheckpoint != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "audit checkpoint in the backup:\n%s", m.AuditCheckpoint)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "the key-encryption key is not in the backup: keep it apart (docs/OPERATIONS.md)")
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "archive to write (required; not overwritten)")
	cmd.MarkFlagRequired("out")
	return cmd
}

// backup writes the archive to a temporary file beside out, checks it,
// fsyncs it and renames it to out.
func (g *globals) backup(ctx context.Context, out string) (backup.Manifest, error) {
	if _, err := os.Stat(out); err == nil {
		return backup.Manifest{}, fmt.Errorf("backup: %s exists", out)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".thiqa-backup-*")
	if err != nil {
		return backup.Manifest{}, fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := g.writeBackup(ctx, tmp); err != nil {
		return backup.Manifest{}, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return backup.Manifest{}, fmt.Errorf("backup: %w", err)
	}
	m, err := backup.Check(ctx, tmp, backup.Limits{})
	if err != nil {
		return backup.Manifest{}, err
	}
	if err := tmp.Sync(); err != nil {
		return backup.Manifest{}, fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return backup.Manifest{}, fmt.Errorf("backup: %w", err)
	}
	return m, nil
}

func (g *globals) writeBackup(ctx context.Context, w io.Writer) error {
	n, _, err := node.Open(ctx, g.nodeOptions(false, nil))
	if err == nil {
		defer n.Close()
		_, err = n.Backup(ctx, w)
		return err
	}
	if !errors.Is(err, node.ErrLocked) {
		return err
	}
	resp, err := g.adminGet(ctx, "/backup")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// adminGet asks the running server's admin socket for path; an answer
// other than 200 is an error.
func (g *globals) adminGet(ctx context.Context, path string) (*http.Response, error) {
	sock := node.AdminSocket(g.dataDir)
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://admin"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", sock, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("admin socket %s: %s: %s", path, resp.Status, b)
	}
	return resp, nil
}

func newRestoreCmd(g *globals) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "restore --from FILE",
		Short: "Restore a backup archive into a new data directory",
		Long: `restore unpacks an archive written by thiqa backup into the data directory
(--data), which must not exist or be empty. Every file is checked against the
archive's manifest; nothing is left behind when a check fails.

The key-encryption key is not in the archive. When it is available (--kek-file,
$THIQA_KEK, or a kek file placed in the new directory), restore then opens the
node and verifies the audit log against its signed checkpoints, which must
reach the checkpoint recorded in the archive.`,
		Example: "  thiqa restore --from /backup/thiqa-2026-11-23.tar --data /var/lib/thiqa-restored --kek-file /secure/kek",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := os.Open(from)
			if err != nil {
				return err
			}
			defer f.Close()
			m, err := backup.Restore(cmd.Context(), f, g.dataDir, backup.Limits{})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "restored %d files into %s (backup of %s)\n", len(m.Files), g.dataDir, m.CreatedAt.Format("2006-01-02T15:04:05Z07:00"))
			n, _, err := node.Open(cmd.Context(), g.nodeOptions(false, nil))
			if err != nil {
				fmt.Fprintf(w, "cannot open the restored node yet (%v):\nprovide the key-encryption key, then run thiqa audit verify\n", err)
				return nil
			}
			defer n.Close()
			return verifyRestored(cmd, n, m)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "archive to restore (required)")
	cmd.MarkFlagRequired("from")
	return cmd
}

func verifyRestored(cmd *cobra.Command, n *node.Node, m backup.Manifest) error {
	rep, err := audit.Verify(cmd.Context(), n.Store, n.Audit.Verifier())
	if err != nil {
		return exitError{1, fmt.Errorf("restored audit log does not verify: %w", err)}
	}
	if m.AuditCheckpoint != "" {
		want, err := audit.OpenCheckpoint([]byte(m.AuditCheckpoint), n.Audit.Verifier())
		if err != nil {
			return exitError{1, fmt.Errorf("backup's audit checkpoint: %w", err)}
		}
		if rep.Latest == nil || rep.Latest.Size < want.Size {
			return exitError{1, fmt.Errorf("restored audit log stops before the backup's checkpoint of size %d", want.Size)}
		}
	}
	printReport(cmd.OutOrStdout(), rep)
	return nil
}
