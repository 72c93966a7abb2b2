package population

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/thiqa/thiqa/enrollment"
)

// Importer imports a batch of records: *enrollment.Service.
type Importer interface {
	Import(ctx context.Context, by enrollment.Principal, recs []enrollment.ImportRecord) (enrollment.ImportResult, error)
}

var _ Importer = (*enrollment.Service)(nil)

// Options tune [Import]; the zero value is usable.
type Options struct {
	// Batch is how many records go in one store transaction (default
	// 1000, at most MaxBatch).
	Batch int
	// MaxErrors stops the import after that many refused rows (default
	// 100; negative: never).
	MaxErrors int
	// OnError is told of each refused row (a *LineError), as it happens.
	OnError func(*LineError)
	// Progress is told the counts after each batch.
	Progress func(Stats)
}

// MaxBatch bounds Options.Batch: one transaction holds a batch.
const MaxBatch = 50_000

// Stats count what an import did.
type Stats struct {
	// Rows read, including refused ones.
	Rows int
	// Imported rows made new identities; Skipped rows had one already
	// (an earlier, interrupted run); Refused rows were malformed.
	Imported, Skipped, Refused int
	// LastLine is the last line of the file that is done (committed,
	// skipped or refused): a run stopped after it resumes there.
	LastLine int
}

// ErrTooManyErrors stops an import after Options.MaxErrors refused rows.
var ErrTooManyErrors = errors.New("too many refused rows")

// Import reads every row of r and imports them in batches through imp as
// by. It returns when the file ends, on a read or store error, when ctx
// ends (the batch being written is committed or not as a whole), or after
// too many refused rows. Importing the same file again skips the rows
// already imported, so an import stopped for any reason is resumed by
// running it again.
func Import(ctx context.Context, imp Importer, by enrollment.Principal, r *Reader, opts Options) (Stats, error) {
	if opts.Batch <= 0 {
		opts.Batch = 1000
	}
	if opts.Batch > MaxBatch {
		return Stats{}, fmt.Errorf("import: batch of %d rows: at most %d", opts.Batch, MaxBatch)
	}
	if opts.MaxErrors == 0 {
		opts.MaxErrors = 100
	}
	var (
		st    Stats
		recs  = make([]enrollment.ImportRecord, 0, opts.Batch)
		lines = make([]int, 0, opts.Batch)
	)
	refuse := func(le *LineError) error {
		st.Refused++
		if opts.OnError != nil {
			opts.OnError(le)
		}
		if opts.MaxErrors > 0 && st.Refused >= opts.MaxErrors {
			return fmt.Errorf("%w: %d (stopped at line %d)", ErrTooManyErrors, st.Refused, le.Line)
		}
		return nil
	}
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := imp.Import(ctx, by, recs)
		if err != nil {
			return fmt.Errorf("import lines %d-%d: %w", lines[0], lines[len(lines)-1], err)
		}
		var tooMany error
		for i, o := range res.Outcomes {
			switch o {
			case enrollment.Imported:
				st.Imported++
			case enrollment.Skipped:
				st.Skipped++
			case enrollment.Refused:
				if err := refuse(&LineError{Line: lines[i], Err: res.Errs[i]}); err != nil && tooMany == nil {
					tooMany = err
				}
			}
		}
		st.LastLine = lines[len(lines)-1]
		recs, lines = recs[:0], lines[:0]
		if opts.Progress != nil {
			opts.Progress(st)
		}
		return tooMany
	}
	for {
		row, err := r.Next()
		if err == io.EOF {
			return st, flush()
		}
		var le *LineError
		switch {
		case errors.As(err, &le):
			st.Rows++
			if err := refuse(le); err != nil {
				return st, errors.Join(flush(), err)
			}
			continue
		case err != nil:
			return st, errors.Join(flush(), err)
		}
		st.Rows++
		recs, lines = append(recs, row.Record), append(lines, row.Line)
		if len(recs) == opts.Batch {
			if err := flush(); err != nil {
				return st, err
			}
		}
	}
}
