package population_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/internal/natid"
	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/internal/population"
	"github.com/thiqa/thiqa/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var (
	ctx = context.Background()
	op  = enrollment.Operator("test")
)

// env is an enrollment service with its audit log, over bbolt or, with a
// DSN, PostgreSQL, with centres AMM-01 and IRB-01.
type env struct {
	st interface {
		ca.Store
		audit.Store
		enrollment.Store
		Close() error
	}
	audit      *audit.Log
	Enrollment *enrollment.Service
}

func openNode(tb testing.TB, dsn string) *env {
	tb.Helper()
	dir := tb.TempDir()
	var (
		e   env
		err error
	)
	if dsn == "" {
		e.st, err = store.OpenBolt(filepath.Join(dir, "thiqa.db"))
	} else {
		e.st, err = store.OpenPostgres(ctx, dsn)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.st.Close() })
	keys, err := hsm.OpenSoftware(filepath.Join(dir, "keys"), make([]byte, hsm.KEKSize), nil)
	if err != nil {
		tb.Fatal(err)
	}
	auditKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if e.audit, err = audit.New(e.st, auditKey, audit.Options{}); err != nil {
		tb.Fatal(err)
	}
	authority, err := ca.Init(ctx, ca.DefaultConfig(), keys, e.st, ca.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if e.Enrollment, err = enrollment.New(e.st, keys, authority, enrollment.Options{Audit: e.audit}); err != nil {
		tb.Fatal(err)
	}
	for _, c := range []store.Centre{
		{Code: "AMM-01", NameEn: "Amman 1", NameAr: "عمان ١", Governorate: "Amman"},
		{Code: "IRB-01", NameEn: "Irbid 1", NameAr: "إربد ١", Governorate: "Irbid"},
	} {
		if _, err := e.Enrollment.CreateCentre(ctx, op, c); err != nil {
			tb.Fatal(err)
		}
	}
	return &e
}

func generate(tb testing.TB, count int, seed uint64, f population.Format) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := population.NewWriter(&buf, f)
	if err != nil {
		tb.Fatal(err)
	}
	err = population.Generate(population.GenerateOptions{Count: count, Seed: seed, Centres: []string{"AMM-01", "IRB-01"}}, w.Write)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestGenerate checks that a population is deterministic by seed, that
// every national number is valid and unique, and that every record passes
// the import's checks (the CSV and JSON Lines files read back the same).
func TestGenerate(t *testing.T) {
	const count = 5000
	a, b := generate(t, count, 7, population.CSV), generate(t, count, 7, population.CSV)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different populations")
	}
	if bytes.Equal(a, generate(t, count, 8, population.CSV)) {
		t.Fatal("different seeds, same population")
	}
	read := func(f population.Format, data []byte) []enrollment.ImportRecord {
		r, err := population.NewReader(bytes.NewReader(data), f)
		if err != nil {
			t.Fatal(err)
		}
		var out []enrollment.ImportRecord
		for {
			row, err := r.Next()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := len(out) + 2; f == population.CSV && row.Line != want {
				t.Fatalf("row %d on line %d, want %d", len(out), row.Line, want)
			}
			out = append(out, row.Record)
		}
	}
	csvRecs, jsonRecs := read(population.CSV, a), read(population.JSONL, generate(t, count, 7, population.JSONL))
	if len(csvRecs) != count || len(jsonRecs) != count {
		t.Fatalf("read %d CSV and %d JSONL records, want %d", len(csvRecs), len(jsonRecs), count)
	}
	seen := map[string]bool{}
	for i, r := range csvRecs {
		if r != jsonRecs[i] {
			t.Fatalf("record %d: CSV %+v, JSONL %+v", i, r, jsonRecs[i])
		}
		if nid, err := natid.Normalize(r.NationalID); err != nil || nid != r.NationalID {
			t.Fatalf("record %d: national number %q: %v", i, r.NationalID, err)
		}
		if seen[r.NationalID] {
			t.Fatalf("national number %s twice", r.NationalID)
		}
		seen[r.NationalID] = true
	}
}

// TestImportInterruptResume imports 10,000 generated identities (3,000 on
// PostgreSQL), cancels the import midway, runs it again, and checks the
// counts are exact: every identity once, with one import record and one
// audit record each.
func TestImportInterruptResume(t *testing.T) {
	for _, kind := range []string{"bolt", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			dsn := ""
			if kind == "postgres" {
				dsn = pgtest.DSN(t)
			}
			n := openNode(t, dsn)
			// 10,000 on bbolt; fewer on PostgreSQL, whose round trips
			// make the same test several times slower under -race.
			count, stopAt := 10000, 4000
			if kind == "postgres" {
				count, stopAt = 3000, 1000
			}
			data := generate(t, count, 1, population.JSONL)
			before := auditSize(t, n)

			cctx, cancel := context.WithCancel(ctx)
			r, _ := population.NewReader(bytes.NewReader(data), population.JSONL)
			st, err := population.Import(cctx, n.Enrollment, op, r, population.Options{Batch: 500, Progress: func(s population.Stats) {
				if s.Imported >= stopAt {
					cancel()
				}
			}})
			if !errors.Is(err, context.Canceled) || st.Imported < stopAt || st.Imported >= count {
				t.Fatalf("interrupted import: %+v, %v; want context canceled after %d", st, err, stopAt)
			}
			first := st.Imported

			r, _ = population.NewReader(bytes.NewReader(data), population.JSONL)
			st, err = population.Import(ctx, n.Enrollment, op, r, population.Options{Batch: 500})
			if err != nil {
				t.Fatal(err)
			}
			if st.Rows != count || st.Skipped != first || st.Imported != count-first || st.Refused != 0 || st.LastLine != count {
				t.Fatalf("resumed import: %+v; want %d rows, %d skipped, %d imported", st, count, first, count-first)
			}
			identities, records := 0, 0
			var nids []string
			r, _ = population.NewReader(bytes.NewReader(data), population.JSONL)
			err = n.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
				for {
					row, err := r.Next()
					if err == io.EOF {
						return nil
					}
					id, err := tx.Identity(row.Record.NationalID)
					if err != nil {
						return err
					}
					recs, err := tx.Enrollments(row.Record.NationalID)
					if err != nil {
						return err
					}
					if id.State != store.IdentityEnrolled || id.Centre != row.Record.Centre || id.GivenNameAr != row.Record.GivenNameAr || len(id.CodeHash) != 0 {
						t.Errorf("identity %s = %+v", id.NationalID, id)
					}
					identities++
					nids = append(nids, id.NationalID)
					for _, rec := range recs {
						if rec.Purpose == enrollment.ImportPurpose && rec.IdentityID == id.ID && rec.Officer == row.Record.Officer {
							records++
						}
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if identities != count || records != count {
				t.Fatalf("%d identities, %d import records; want %d each", identities, records, count)
			}
			if got := auditSize(t, n) - before; got != uint64(count) {
				t.Fatalf("%d audit records, want %d", got, count)
			}
			// The audit leaves name identities by their internal IDs only.
			entries, err := n.st.AuditEntries(ctx, before, 50)
			if err != nil || len(entries) != 50 {
				t.Fatalf("audit entries: %d, %v", len(entries), err)
			}
			for _, en := range entries {
				rec, err := audit.ParseRecord(en.Record)
				if err != nil || rec.Action != "enrollment.import" || !strings.HasPrefix(rec.Subject, "identity:") || rec.Subject == "identity:unknown" {
					t.Fatalf("audit record %d = %+v, %v", en.Index, rec, err)
				}
				for _, nid := range nids {
					if strings.Contains(string(en.Record), nid) {
						t.Fatalf("national number %s in audit leaf %d: %s", nid, en.Index, en.Record)
					}
				}
			}
		})
	}
}

func auditSize(t *testing.T, n *env) uint64 {
	t.Helper()
	cp, err := n.audit.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return cp.Size
}

// TestImportBadRows checks that each bad row is reported with its line and
// why, imports nothing for it, and does not stop the good rows.
func TestImportBadRows(t *testing.T) {
	n := openNode(t, "")
	good := string(generate(t, 3, 5, population.CSV))
	lines := strings.Split(strings.TrimSpace(good), "\n")
	row := func(i int, field, value string) string {
		cols := strings.Split(lines[i], ",")
		idx := map[string]int{}
		for j, f := range enrollment.ImportFields {
			idx[f] = j
		}
		cols[idx[field]] = value
		return strings.Join(cols, ",")
	}
	file := strings.Join([]string{
		lines[0],                                     // header
		lines[1],                                     // line 2: good
		row(2, "national_id", "12345"),               // 3
		row(2, "given_name", "سارة"),                 // 4: Arabic in the Latin name
		row(2, "date_of_birth", "1990-13-01"),        // 5
		row(2, "centre", "ZRQ-09"),                   // 6: no such centre
		row(2, "result", "fail"),                     // 7
		row(2, "proofed_at", "yesterday"),            // 8
		row(2, "doc_type", "driving-licence"),        // 9
		"1,2,3",                                      // 10: columns
		row(2, "proofed_at", "2099-01-01T00:00:00Z"), // 11
		lines[2], // 12: good
		lines[3], // 13: good
	}, "\n")
	r, err := population.NewReader(strings.NewReader(file), population.CSV)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	st, err := population.Import(ctx, n.Enrollment, op, r, population.Options{Batch: 4, OnError: func(le *population.LineError) {
		got = append(got, le.Error())
	}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Imported != 3 || st.Refused != 9 || st.Rows != 12 {
		t.Fatalf("stats %+v; want 3 imported, 9 refused of 12", st)
	}
	want := []string{"line 3: invalid input: national number", "line 4: invalid input: given_name has a character outside its script",
		"line 5: invalid input: date_of_birth", "line 6: not found: centre ZRQ-09", "line 7: invalid input: result is \"fail\"",
		"line 8: invalid input: proofed_at must be", "line 9: invalid input: doc_type", "line 10: 3 columns, the header has 14",
		"line 11: invalid input: proofed_at is in the future"}
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("errors lack %q:\n%s", w, all)
		}
	}
	// Only the good rows made identities.
	err = n.st.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
		for i := 1; i <= 3; i++ {
			nid := strings.Split(lines[i], ",")[0]
			if _, err := tx.Identity(nid); err != nil {
				t.Errorf("good row %d not imported: %v", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A header without a required column is refused whole.
	if _, err := population.NewReader(strings.NewReader("national_id,given_name\n"), population.CSV); !errors.Is(err, population.ErrFormat) {
		t.Errorf("short header: %v", err)
	}
	// Too many errors stop the import.
	r, _ = population.NewReader(strings.NewReader(file), population.CSV)
	if _, err := population.Import(ctx, n.Enrollment, op, r, population.Options{MaxErrors: 2}); !errors.Is(err, population.ErrTooManyErrors) {
		t.Errorf("MaxErrors 2: %v", err)
	}
	// A batch too large to hold in one transaction is refused.
	r, _ = population.NewReader(strings.NewReader(good), population.CSV)
	if _, err := population.Import(ctx, n.Enrollment, op, r, population.Options{Batch: population.MaxBatch + 1}); err == nil {
		t.Error("a batch over MaxBatch was accepted")
	}
	// Only an administrator imports.
	r, _ = population.NewReader(strings.NewReader(good), population.CSV)
	officer := enrollment.Principal{Kind: enrollment.KindOfficer, Username: "omar", Role: "officer", Centre: "AMM-01", AuthTime: time.Now()}
	if _, err := population.Import(ctx, n.Enrollment, officer, r, population.Options{}); !errors.Is(err, enrollment.ErrForbidden) {
		t.Errorf("officer import: %v", err)
	}
}

// BenchmarkImport measures the import rate on bbolt and PostgreSQL, in
// batches of 1000, audit records included.
func BenchmarkImport(b *testing.B) {
	for _, kind := range []string{"bolt", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			dsn := ""
			if kind == "postgres" {
				dsn = pgtest.DSN(b)
			}
			n := openNode(b, dsn)
			data := generate(b, b.N, 3, population.CSV)
			b.ResetTimer()
			r, _ := population.NewReader(bytes.NewReader(data), population.CSV)
			st, err := population.Import(ctx, n.Enrollment, op, r, population.Options{})
			if err != nil || st.Imported != b.N {
				b.Fatalf("%+v, %v", st, err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
