package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/platform/catalogue"
	"github.com/thiqa/thiqa/store"
)

// newAdminCatalogueCmd returns "thiqa admin catalogue": import and export
// the service catalogue.
func newAdminCatalogueCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "catalogue", Short: "The catalogue of government services (import, export)",
		Example: "  thiqa admin catalogue import testdata/catalogue/sample.csv"}
	cmd.AddCommand(newAdminCatalogueImportCmd(g), newAdminCatalogueExportCmd(g))
	return cmd
}

// openCatalogue opens the node's store as a catalogue; it returns
// node.ErrLocked when a running server holds the store (then the admin
// socket serves the catalogue).
func openCatalogue(cmd *cobra.Command, g *globals) (*catalogue.Catalogue, func(), error) {
	nd, _, err := node.Open(cmd.Context(), g.nodeOptions(false, nil))
	if err != nil {
		return nil, nil, err
	}
	st, ok := nd.Store.(catalogue.Store)
	if !ok {
		nd.Close()
		return nil, nil, errors.New("this store keeps no catalogue")
	}
	return catalogue.New(st, catalogue.Options{}), func() { nd.Close() }, nil
}

// formatOf is the --format flag, or else the file's extension.
func formatOf(flag, path string) (catalogue.Format, error) {
	if flag == "" {
		flag = strings.TrimPrefix(filepath.Ext(path), ".")
	}
	if flag == "" {
		return "", errors.New("say --format csv or --format jsonl")
	}
	return catalogue.ParseFormat(flag)
}

func newAdminCatalogueImportCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "import FILE|- [--format csv|jsonl]",
		Short: "Create or update services from a CSV or JSONL file (upsert by code)",
		Long: `import reads a catalogue file and creates or replaces its services by code,
all in one transaction: a file with any bad line changes nothing, and the
errors name their line numbers. Importing the same file again changes
nothing. CSV has a header row naming its columns (` + strings.Join(catalogue.Columns, ", ") + `);
documents are separated by "|"; fees are whole fils (1 JOD = 1000 fils).
JSONL has one service object a line with the same field names. A progress bar
goes to stderr. While thiqa serve runs, the file goes through its admin
socket.`,
		Example: `  thiqa admin catalogue import testdata/catalogue/sample.csv
  thiqa admin catalogue import --format jsonl - < services.jsonl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := formatOf(format, args[0])
			if err != nil {
				return err
			}
			var in io.Reader = cmd.InOrStdin()
			var size int64 = -1
			if args[0] != "-" {
				file, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer file.Close()
				if fi, err := file.Stat(); err == nil {
					size = fi.Size()
				}
				in = file
			}
			bar := newProgressBar(cmd.ErrOrStderr(), "import", size)
			var ch store.CatalogueChanges
			c, closeFn, err := openCatalogue(cmd, g)
			switch {
			case errors.Is(err, node.ErrLocked):
				// thiqa serve runs: send the file through its admin socket.
				ch, err = g.adminImport(cmd.Context(), &countingReader{r: in, progress: bar.set}, f)
			case err == nil:
				defer closeFn()
				ch, err = c.Import(cmd.Context(), in, f, catalogue.DecodeOptions{Progress: bar.set})
			}
			bar.done()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "catalogue: %d created, %d updated, %d unchanged\n", ch.Created, ch.Updated, ch.Unchanged)
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "csv or jsonl (default: from the file's extension)")
	return cmd
}

func newAdminCatalogueExportCmd(g *globals) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "export [--format csv|jsonl] [--out FILE]",
		Short: "Write the whole catalogue as CSV or JSONL, in order of code",
		Long: `export writes every service of the catalogue in the format that import reads,
to --out or to stdout; while thiqa serve runs, through its admin socket.`,
		Example: `  thiqa admin catalogue export --format jsonl --out services.jsonl`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format == "" && out == "" {
				format = "csv"
			}
			f, err := formatOf(format, out)
			if err != nil {
				return err
			}
			export := func(w io.Writer) error { return g.adminExport(cmd.Context(), w, f) }
			c, closeFn, err := openCatalogue(cmd, g)
			switch {
			case err == nil:
				defer closeFn()
				export = func(w io.Writer) error { return c.Export(cmd.Context(), w, f) }
			case !errors.Is(err, node.ErrLocked):
				return err
			}
			if out == "" {
				return export(cmd.OutOrStdout())
			}
			return writeFileAtomic(out, export)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "csv or jsonl (default: from --out's extension, else csv)")
	cmd.Flags().StringVar(&out, "out", "", "file to write (default stdout)")
	return cmd
}

// writeFileAtomic writes path through a temporary file and a rename.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// progressBar draws "import [#####.....]  52%  14.1/27.0 KiB" on w, at
// most every 100 ms; without a known size it counts bytes.
type progressBar struct {
	w     io.Writer
	label string
	total int64
	n     int64
	last  time.Time
	drawn bool
}

func newProgressBar(w io.Writer, label string, total int64) *progressBar {
	return &progressBar{w: w, label: label, total: total}
}

func (p *progressBar) set(n int64) {
	p.n = n
	if time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.draw()
}

func (p *progressBar) draw() {
	p.last, p.drawn = time.Now(), true
	const width = 30
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r%s %.1f KiB", p.label, float64(p.n)/1024)
		return
	}
	frac := min(float64(p.n)/float64(p.total), 1)
	full := int(frac * width)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%%  %.1f/%.1f KiB", p.label, strings.Repeat("#", full), strings.Repeat(".", width-full),
		frac*100, float64(p.n)/1024, float64(p.total)/1024)
}

// done draws the final state and ends the line.
func (p *progressBar) done() {
	p.draw()
	fmt.Fprintln(p.w)
}

// adminImport sends a catalogue file to the running server's admin socket.
func (g *globals) adminImport(ctx context.Context, r io.Reader, f catalogue.Format) (store.CatalogueChanges, error) {
	var ch store.CatalogueChanges
	sock := node.AdminSocket(g.dataDir)
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://admin/catalogue/import?format="+string(f), r)
	if err != nil {
		return ch, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return ch, fmt.Errorf("the store is in use and the admin socket %s does not answer: %w", sock, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return ch, errors.New(strings.TrimSpace(string(b)))
	}
	return ch, json.NewDecoder(resp.Body).Decode(&ch)
}

// adminExport writes the running server's catalogue, from its admin
// socket.
func (g *globals) adminExport(ctx context.Context, w io.Writer, f catalogue.Format) error {
	resp, err := g.adminGet(ctx, "/catalogue/export?format="+string(f))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// countingReader reports the bytes read so far.
type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.progress(c.n)
	return n, err
}
