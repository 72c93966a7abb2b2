package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"testing"
	"time"
)

// fuzzSeeds adds the smaller signed corpus files as seeds. Seeds must be
// the same in every fuzzing process, so none is signed at run time.
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
	})
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
