package population

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/thiqa/thiqa/enrollment"
)

// Writer writes records in a format; call Flush at the end.
type Writer struct {
	format Format
	buf    *bufio.Writer
	csv    *csv.Writer
	row    []string
}

// NewWriter returns a writer of format f to w; a CSV writer writes the
// header first.
func NewWriter(w io.Writer, f Format) (*Writer, error) {
	out := &Writer{format: f, buf: bufio.NewWriterSize(w, 64<<10)}
	switch f {
	case CSV:
		out.csv = csv.NewWriter(out.buf)
		if err := out.csv.Write(enrollment.ImportFields); err != nil {
			return nil, err
		}
	case JSONL:
	default:
		return nil, fmt.Errorf("%w: format %q", ErrFormat, f)
	}
	return out, nil
}

// Write writes one record.
func (w *Writer) Write(r enrollment.ImportRecord) error {
	if w.format == JSONL {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		w.buf.Write(b)
		return w.buf.WriteByte('\n')
	}
	w.row = append(w.row[:0], r.NationalID, r.GivenName, r.Surname, r.GivenNameAr, r.SurnameAr, r.DateOfBirth,
		r.DocType, r.DocNumber, r.DocExpiry, r.Centre, r.Officer, r.Method, r.Result, r.ProofedAt)
	return w.csv.Write(w.row)
}

// Flush writes what is buffered.
func (w *Writer) Flush() error {
	if w.csv != nil {
		w.csv.Flush()
		if err := w.csv.Error(); err != nil {
			return err
		}
	}
	return w.buf.Flush()
}

// GenerateOptions describe a synthetic population.
type GenerateOptions struct {
	// Count is how many identities (at most MaxGenerate).
	Count int
	// Seed makes the population: the same seed and options give the same
	// file.
	Seed uint64
	// Centres are the centre codes the identities are spread over
	// (default AMM-01).
	Centres []string
	// Officer names who proofed them (default "registry-import").
	Officer string
	// AsOf is the date the population is as of: every citizen is 18 to 90
	// years old then and was proofed in the five years before it (default
	// 2026-01-01, so that the file does not depend on the day it is made).
	AsOf time.Time
}

// MaxGenerate bounds GenerateOptions.Count: national numbers are drawn
// without repetition from the 10⁹ that start with 9.
const MaxGenerate = 1_000_000_000

// Generate calls emit with each record of a synthetic population: unique
// ten-digit national numbers (in a scrambled order), given and family names
// from small lists in Latin and Arabic script, dates of birth, national ID
// cards valid for ten years from proofing, proofed in person with a pass.
func Generate(opts GenerateOptions, emit func(enrollment.ImportRecord) error) error {
	if opts.Count < 0 || opts.Count > MaxGenerate {
		return fmt.Errorf("generate population: count %d: want 0 to %d", opts.Count, MaxGenerate)
	}
	if len(opts.Centres) == 0 {
		opts.Centres = []string{"AMM-01"}
	}
	if opts.Officer == "" {
		opts.Officer = "registry-import"
	}
	if opts.AsOf.IsZero() {
		opts.AsOf = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	asOf := opts.AsOf.UTC().Truncate(24 * time.Hour)
	rng := rand.New(rand.NewPCG(opts.Seed, 0x7468697161))
	// i ↦ (a·i + b) mod 10⁹ is a permutation when a is prime to 10⁹.
	a := uint64(rng.IntN(1e8))*10 + 7
	for a%5 == 0 || a%2 == 0 {
		a += 2
	}
	b := rng.Uint64N(1e9)
	const day = 24 * time.Hour
	for i := range opts.Count {
		nid := fmt.Sprintf("9%09d", (a*uint64(i)+b)%1e9)
		given := maleNames
		if rng.IntN(2) == 0 {
			given = femaleNames
		}
		g, f := given[rng.IntN(len(given))], familyNames[rng.IntN(len(familyNames))]
		dob := asOf.AddDate(-18, 0, 0).Add(-time.Duration(rng.IntN(72*365)) * day)
		proofed := asOf.Add(-time.Duration(rng.IntN(5*365*24*3600)) * time.Second)
		rec := enrollment.ImportRecord{
			NationalID: nid, GivenName: g.latin, Surname: f.latin, GivenNameAr: g.arabic, SurnameAr: f.arabic,
			DateOfBirth: dob.Format(time.DateOnly), DocType: "national-id-card",
			DocNumber: fmt.Sprintf("%c%c%07d", 'A'+rng.IntN(26), 'A'+rng.IntN(26), rng.IntN(1e7)),
			DocExpiry: proofed.AddDate(10, 0, 0).Format(time.DateOnly),
			Centre:    opts.Centres[rng.IntN(len(opts.Centres))], Officer: opts.Officer,
			Method: "in-person", Result: "pass", ProofedAt: proofed.Format(time.RFC3339),
		}
		if err := emit(rec); err != nil {
			return err
		}
	}
	return nil
}
