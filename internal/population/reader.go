package population

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/thiqa/thiqa/enrollment"
)

// MaxLine bounds a line of a population file.
const MaxLine = 16 << 10

// Row is one record read from a file, with the line it starts on (1 is
// the first line of the file).
type Row struct {
	Line   int
	Record enrollment.ImportRecord
}

// LineError is a malformed row: the reader goes on with the next one.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Reader reads rows from a population file.
type Reader struct {
	format Format
	// CSV
	csv   *csv.Reader
	index []int // index[i] is the column of enrollment.ImportFields[i]
	// JSONL
	lines *bufio.Scanner
	line  int
}

// NewReader returns a reader of r in format f. A CSV file's header is read
// at once: it must name every field of [enrollment.ImportFields] once and
// nothing else.
func NewReader(r io.Reader, f Format) (*Reader, error) {
	lr := &lineLimit{r: r}
	switch f {
	case CSV:
		c := csv.NewReader(lr)
		c.ReuseRecord = true
		head, err := c.Read()
		if err != nil {
			return nil, fmt.Errorf("%w: header: %w", ErrFormat, structural(err))
		}
		index, err := headerIndex(head)
		if err != nil {
			return nil, err
		}
		c.FieldsPerRecord = len(head)
		return &Reader{format: f, csv: c, index: index}, nil
	case JSONL:
		s := bufio.NewScanner(lr)
		s.Buffer(make([]byte, 0, 4096), MaxLine+1)
		return &Reader{format: f, lines: s}, nil
	}
	return nil, fmt.Errorf("%w: format %q", ErrFormat, f)
}

func headerIndex(head []string) ([]int, error) {
	index := make([]int, len(enrollment.ImportFields))
	for i := range index {
		index[i] = -1
	}
	for col, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		i := slices.Index(enrollment.ImportFields, h)
		switch {
		case i < 0:
			return nil, fmt.Errorf("%w: header: unknown column %q (want %s)", ErrFormat, h, strings.Join(enrollment.ImportFields, ","))
		case index[i] >= 0:
			return nil, fmt.Errorf("%w: header: column %q twice", ErrFormat, h)
		}
		index[i] = col
	}
	for i, col := range index {
		if col < 0 {
			return nil, fmt.Errorf("%w: header: no column %q", ErrFormat, enrollment.ImportFields[i])
		}
	}
	return index, nil
}

// Next returns the next row; io.EOF at the end. A malformed row is a
// *LineError and the reader may be called again; any other error (an
// ErrFormat, a read error) ends the file.
func (r *Reader) Next() (Row, error) {
	if r.format == CSV {
		return r.nextCSV()
	}
	return r.nextJSONL()
}

func (r *Reader) nextCSV() (Row, error) {
	rec, err := r.csv.Read()
	if err == io.EOF {
		return Row{}, io.EOF
	}
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount):
		return Row{}, &LineError{Line: pe.StartLine, Err: fmt.Errorf("%d columns, the header has %d", len(rec), r.csv.FieldsPerRecord)}
	case errors.As(err, &pe):
		// The reader consumed the bad line and goes on after it.
		return Row{}, &LineError{Line: pe.Line, Err: pe.Err}
	}
	if err != nil {
		return Row{}, fmt.Errorf("%w: %w", ErrFormat, structural(err))
	}
	line, _ := r.csv.FieldPos(0)
	f := func(i int) string { return rec[r.index[i]] }
	return Row{Line: line, Record: enrollment.ImportRecord{NationalID: f(0), GivenName: f(1), Surname: f(2),
		GivenNameAr: f(3), SurnameAr: f(4), DateOfBirth: f(5), DocType: f(6), DocNumber: f(7), DocExpiry: f(8),
		Centre: f(9), Officer: f(10), Method: f(11), Result: f(12), ProofedAt: f(13)}}, nil
}

func (r *Reader) nextJSONL() (Row, error) {
	for r.lines.Scan() {
		r.line++
		b := bytes.TrimSpace(r.lines.Bytes())
		if len(b) == 0 {
			continue
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		var rec enrollment.ImportRecord
		if err := d.Decode(&rec); err != nil {
			return Row{}, &LineError{Line: r.line, Err: fmt.Errorf("JSON: %w", err)}
		}
		if d.More() {
			return Row{}, &LineError{Line: r.line, Err: errors.New("JSON: more than one value on the line")}
		}
		return Row{Line: r.line, Record: rec}, nil
	}
	if err := r.lines.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Row{}, fmt.Errorf("%w: line %d is longer than %d bytes", ErrFormat, r.line+1, MaxLine)
		}
		return Row{}, structural(err)
	}
	return Row{}, io.EOF
}

// structural keeps a line-limit error recognisable through csv's wrapping.
func structural(err error) error {
	if errors.Is(err, errLineTooLong) {
		return fmt.Errorf("%w: a line is longer than %d bytes", ErrFormat, MaxLine)
	}
	return err
}

var errLineTooLong = errors.New("line too long")

// lineLimit fails a read once a line passes MaxLine bytes, so that a file
// without newlines cannot make the CSV reader buffer it whole.
type lineLimit struct {
	r   io.Reader
	run int
}

func (l *lineLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, c := range p[:n] {
		if c == '\n' {
			l.run = 0
			continue
		}
		if l.run++; l.run > MaxLine+2 {
			return 0, errLineTooLong
		}
	}
	return n, err
}
