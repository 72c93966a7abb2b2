package audit_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/thiqa/thiqa/audit"
)

// seeds returns real records, a real signed checkpoint and the key that
// signed it.
func seeds(f *testing.F) ([]audit.Receipt, audit.Checkpoint, *audit.Verifier) {
	fx := newFixture(f)
	rs := fx.fill(f, 4)
	c, err := fx.log.Checkpoint(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	return rs, c, fx.log.Verifier()
}

// FuzzParseRecord: records come from the store or from a citizen's receipt.
// A record that parses re-encodes to the same bytes.
func FuzzParseRecord(f *testing.F) {
	rs, _, _ := seeds(f)
	for _, r := range rs {
		f.Add(r.Record)
	}
	f.Add([]byte(`{"v":1,"index":0,"time":"2026-11-01T10:00:00Z","actor":"a","action":"b","subject":""}`))
	f.Add([]byte(`{"v":1,"index":7,"time":"2026-11-01T10:00:00Z","actor":"officer:omar","action":"enrollment.enrol","subject":"identity:x","source":"enrollment.event:0000018a2b3c4d5eABCDEFGHIJ"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := audit.ParseRecord(b)
		if err != nil {
			return
		}
		enc, err := r.Marshal()
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("parsed record re-encodes to %q, %v", enc, err)
		}
	})
}

// FuzzOpenCheckpoint: checkpoints are fetched from /audit/checkpoint by
// anyone. Only the genuine checkpoint opens.
func FuzzOpenCheckpoint(f *testing.F) {
	_, c, v := seeds(f)
	f.Add(c.Note)
	f.Add(bytes.Replace(c.Note, []byte("\n4\n"), []byte("\n5\n"), 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := audit.OpenCheckpoint(b, v)
		if err != nil {
			return
		}
		if got.Size != c.Size || !bytes.Equal(got.Root, c.Root) {
			t.Fatalf("forged checkpoint opened: %+v", got)
		}
	})
}

// FuzzParseCheckpoint: the checkpoint body parser alone, round trip.
func FuzzParseCheckpoint(f *testing.F) {
	_, c, _ := seeds(f)
	f.Add(string(c.Note[:bytes.Index(c.Note, []byte("\n\n"))+1]))
	f.Fuzz(func(t *testing.T, s string) {
		got, err := audit.ParseCheckpoint(s)
		if err != nil {
			return
		}
		if got.Size > 1<<63 && len(got.Root) != 32 {
			t.Fatal("impossible checkpoint")
		}
	})
}

// FuzzParseVerifierKey: verifier keys are pasted by operators and
// auditors. One that parses prints back the same.
func FuzzParseVerifierKey(f *testing.F) {
	_, _, v := seeds(f)
	f.Add(v.Key())
	f.Add("thiqa.jo/audit+00000000+AgAA")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := audit.ParseVerifierKey(s)
		if err != nil {
			return
		}
		if got.Key() != s {
			t.Fatalf("key %q prints back as %q", s, got.Key())
		}
	})
}
