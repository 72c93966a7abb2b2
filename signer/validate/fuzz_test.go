package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds adds the smaller signed corpus files as seeds. Seeds must be
// the same in every fuzzing process, so none is signed at run time.
//
// Why not the whole corpus: go test -fuzz minimises every input that
// finds new coverage, running the target on candidate inputs for up to
// -fuzzminimizetime (60 s by default) before fuzzing on. Mutations of a
// PDF find new coverage all the time at first, and with coverage
// instrumentation one execution on the corpus' 1 MB, 50-revision files
// costs 40-150 ms, so each worker spent whole minutes minimising and
// fuzzing stalled at 0 execs/s ("execs: 42" for a minute). Small seeds
// keep executions at a few milliseconds; scripts/fuzz.sh also bounds
// minimisation (-fuzzminimizetime 50x). The large files are validated by
// TestCorpusAll, and the slow-input class they exposed (work growing with
// revisions × object size) by TestManyRevisionsLargeContents.
func fuzzSeeds(f *testing.F) {
	for _, p := range corpusFiles(f, "signed") {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 64<<10 {
			f.Add(b)
		}
	}
	f.Add(makePDF(f, 1))
}

var fuzzOpts = &Options{Time: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), Limits: Limits{Timeout: 5 * time.Second, MaxObjects: 20_000}}

// FuzzDiscover validates arbitrary bytes: discovery, byte ranges, CMS,
// modification analysis. It must never panic, and it must always give a
// report with a verdict.
func FuzzDiscover(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := Validate(context.Background(), bytes.NewReader(b), int64(len(b)), fuzzOpts)
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		if rep.Indication == "" {
			t.Fatal("report without an indication")
		}
		for _, s := range rep.Signatures {
			if s.Indication == "" || s.Explanation.EN == "" || s.Explanation.AR == "" {
				t.Fatalf("signature %s without a verdict or explanation", s.ID)
			}
		}
		// An input that keeps the validator busy until its deadline is a
		// denial of service: keep it as a failing input.
		if where := deadlineHit(rep); where != "" {
			t.Fatalf("validation of %d bytes reached its %v deadline: %s", len(b), fuzzOpts.Limits.Timeout, where)
		}
	})
}

// deadlineHit returns the part of rep that says validation was cut short
// by its deadline, or "".
func deadlineHit(rep *Report) string {
	cut := func(s string) bool { return strings.Contains(s, context.DeadlineExceeded.Error()) }
	if cut(rep.Problem) {
		return rep.Problem
	}
	for _, s := range rep.Signatures {
		for _, f := range s.Findings {
			if cut(f) {
				return f
			}
		}
	}
	for _, m := range rep.Modifications {
		if cut(m.Detail) {
			return m.Detail
		}
	}
	return ""
}

// FuzzReport builds the three report forms from arbitrary inputs and
// checks that the JSON reads back.
func FuzzReport(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := Validate(context.Background(), bytes.NewReader(b), int64(len(b)), fuzzOpts)
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		var j bytes.Buffer
		if err := rep.WriteJSON(&j); err != nil {
			t.Fatal(err)
		}
		var back Report
		if err := json.Unmarshal(j.Bytes(), &back); err != nil {
			t.Fatalf("JSON does not read back: %v", err)
		}
		if err := rep.WriteText(io.Discard); err != nil {
			t.Fatal(err)
		}
		if err := rep.WriteXML(io.Discard); err != nil {
			t.Fatal(err)
		}
	})
}
