package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/population"
)

func newAdminImportCmd(g *globals) *cobra.Command {
	var (
		format   string
		opts     population.Options
		progress bool
	)
	cmd := &cobra.Command{
		Use:   "import-identities FILE",
		Short: "Import identities proofed elsewhere from a CSV or JSON Lines file (resumable)",
		Long: `import-identities imports identities already proofed in person elsewhere (a
national registry, a previous system): each row becomes an identity in state
enrolled, with an enrollment record marked "import" that keeps who proofed it,
how and when, and an audit record. The citizen activates at a centre later:
an officer of the row's centre issues the activation code.

The format follows the file's extension (.csv, .jsonl) or --format. A CSV file
has a header naming the columns, in any order:

  national_id,given_name,surname,given_name_ar,surname_ar,date_of_birth,
  doc_type,doc_number,doc_expiry,centre,officer,method,result,proofed_at

A JSON Lines file has one object per line with the same names. Dates are
YYYY-MM-DD, proofed_at is RFC 3339, doc_type is national-id-card or passport,
result must be pass, and the centres must exist (thiqa admin centre add).

Rows are written in batches, one transaction each. A national number that has
an identity already is skipped, so an import that stopped (Ctrl-C, a crash, a
lost database) is resumed by running the same command again. A bad row is
reported with its line number on standard error and imported nothing; the
others go on. Exit status 0 when every row is imported or skipped, 1
otherwise.

It opens the store itself: stop thiqa serve first when the store is the
embedded one; with --store postgres://… it runs beside the replicas.`,
		Example: `  thiqa admin import-identities registry.csv
  thiqa admin import-identities --store postgres://thiqa@db.internal/thiqa --batch 2000 registry.jsonl
  thiqa admin generate-population --count 10000 --out pop.csv && thiqa admin import-identities pop.csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if format == "" {
				format = name
			}
			f, err := population.ParseFormat(format)
			if err != nil {
				return err
			}
			file, err := os.Open(name)
			if err != nil {
				return err
			}
			defer file.Close()
			info, err := file.Stat()
			if err != nil {
				return err
			}
			svc, done, err := g.enrollmentOffline(cmd)
			if err != nil {
				return err
			}
			defer done()
			stderr := cmd.ErrOrStderr()
			bar := progressbar.NewOptions64(info.Size(), progressbar.OptionSetWriter(stderr), progressbar.OptionShowBytes(true),
				progressbar.OptionSetDescription("importing"), progressbar.OptionThrottle(250*time.Millisecond),
				progressbar.OptionSetVisibility(progress), progressbar.OptionSetPredictTime(true),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }))
			in := progressbar.NewReader(file, bar)
			r, err := population.NewReader(&in, f)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			opts.OnError = func(le *population.LineError) {
				bar.Clear()
				fmt.Fprintf(stderr, "%s:%d: %v\n", name, le.Line, le.Err)
			}
			opts.Progress = func(s population.Stats) {
				bar.Describe(fmt.Sprintf("imported %d, skipped %d, refused %d", s.Imported, s.Skipped, s.Refused))
			}
			st, err := population.Import(cmd.Context(), svc, enrollment.Operator(operatorName()), r, opts)
			if err == nil {
				bar.Finish()
			} else {
				bar.Exit() // keep the bar where the import stopped
				fmt.Fprintln(stderr)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d rows: %d imported, %d skipped (present already), %d refused\n",
				name, st.Rows, st.Imported, st.Skipped, st.Refused)
			switch {
			case errors.Is(err, context.Canceled):
				return fmt.Errorf("interrupted after line %d: run the same command again to resume", st.LastLine)
			case err != nil:
				return fmt.Errorf("%s: %w (done up to line %d: run again to resume)", name, err, st.LastLine)
			case st.Refused > 0:
				return fmt.Errorf("%s: %d rows refused (see the messages above); fix them and run again: imported rows are skipped", name, st.Refused)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "csv or jsonl (default: from the file's extension)")
	cmd.Flags().IntVar(&opts.Batch, "batch", 1000, "rows per transaction")
	cmd.Flags().IntVar(&opts.MaxErrors, "max-errors", 100, "stop after this many refused rows (-1: never)")
	cmd.Flags().BoolVar(&progress, "progress", true, "show a progress bar on standard error")
	storeFlag(cmd)
	return cmd
}

func newAdminGenerateCmd() *cobra.Command {
	var (
		out, format string
		opts        population.GenerateOptions
		asOf        string
	)
	cmd := &cobra.Command{
		Use:   "generate-population --count N --out FILE",
		Short: "Write a synthetic population for tests and load (CSV or JSON Lines)",
		Long: `generate-population writes N synthetic identities in the format that
import-identities reads: unique valid national numbers, given and family
names in Latin and Arabic script from small lists, dates of birth (18 to 90
years old on --as-of), national ID cards, proofed in person at the given
centres in the five years before --as-of. The same --seed and flags give
the same file. It never overwrites a file.`,
		Example: `  thiqa admin generate-population --count 3500000 --out nation.csv --seed 1
  thiqa admin generate-population --count 10000 --out pilot.jsonl --centres AMM-01,IRB-01`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format == "" {
				format = out
			}
			f, err := population.ParseFormat(format)
			if err != nil {
				return err
			}
			if opts.AsOf, err = time.Parse(time.DateOnly, asOf); err != nil {
				return fmt.Errorf("--as-of %q: want YYYY-MM-DD", asOf)
			}
			file, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			w, err := population.NewWriter(file, f)
			if err == nil {
				err = population.Generate(opts, w.Write)
			}
			if err == nil {
				err = w.Flush()
			}
			if err == nil {
				err = file.Sync()
			}
			if cerr := file.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(out)
				return fmt.Errorf("generate population: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d identities (%s, seed %d)\n", out, opts.Count, f, opts.Seed)
			return nil
		},
	}
	cmd.Flags().IntVar(&opts.Count, "count", 0, "how many identities (required)")
	cmd.Flags().StringVar(&out, "out", "", "file to write, .csv or .jsonl (required; not overwritten)")
	cmd.Flags().StringVar(&format, "format", "", "csv or jsonl (default: from the file's extension)")
	cmd.Flags().Uint64Var(&opts.Seed, "seed", 1, "seed of the generator")
	cmd.Flags().StringSliceVar(&opts.Centres, "centres", []string{"AMM-01"}, "centre codes to spread the identities over")
	cmd.Flags().StringVar(&opts.Officer, "officer", "registry-import", "who proofed them, as recorded")
	cmd.Flags().StringVar(&asOf, "as-of", "2026-01-01", "date the population is as of")
	cmd.MarkFlagRequired("count")
	cmd.MarkFlagRequired("out")
	return cmd
}
