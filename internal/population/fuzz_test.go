package population_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/thiqa/thiqa/internal/population"
)

// FuzzReader reads arbitrary bytes as CSV and as JSON Lines: no panic, no
// endless loop, every row error a *LineError with a line number that grows,
// and what a CSV file yields written back reads back the same.
func FuzzReader(f *testing.F) {
	f.Add(generate(f, 3, 1, population.CSV))
	f.Add(generate(f, 3, 1, population.JSONL))
	f.Add([]byte("national_id,given_name\n1,2\n"))
	f.Add([]byte("{\"national_id\":1}\n\n{}\n{\"x\":2}{}\n"))
	f.Add([]byte("\ufeffnational_id,given_name,surname,given_name_ar,surname_ar,date_of_birth,doc_type,doc_number,doc_expiry,centre,officer,method,result,proofed_at\n\"a\"b,\n1,2,3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []population.Format{population.CSV, population.JSONL} {
			r, err := population.NewReader(bytes.NewReader(data), format)
			if err != nil {
				continue
			}
			var rows []population.Row
			last := 0
			for i := 0; ; i++ {
				if i > len(data)+1 {
					t.Fatalf("%s: more rows than bytes", format)
				}
				row, err := r.Next()
				if err == io.EOF {
					break
				}
				var le *population.LineError
				if errors.As(err, &le) {
					if le.Line < last {
						t.Fatalf("%s: line %d after line %d", format, le.Line, last)
					}
					last = le.Line
					continue
				}
				if err != nil {
					break
				}
				if row.Line < last {
					t.Fatalf("%s: line %d after line %d", format, row.Line, last)
				}
				last = row.Line
				rows = append(rows, row)
			}
			if format != population.CSV || len(rows) == 0 {
				continue
			}
			var buf bytes.Buffer
			w, _ := population.NewWriter(&buf, population.CSV)
			for _, row := range rows {
				w.Write(row.Record)
			}
			w.Flush()
			r2, err := population.NewReader(&buf, population.CSV)
			if err != nil {
				t.Fatalf("rewritten file: %v", err)
			}
			for i, row := range rows {
				got, err := r2.Next()
				if err != nil || got.Record != row.Record {
					t.Fatalf("row %d rewritten: %+v, %v; want %+v", i, got.Record, err, row.Record)
				}
			}
		}
	})
}
