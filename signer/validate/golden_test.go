package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden checks the JSON, text and XML reports of corpus files
// against testdata/golden (regenerate with -update).
func TestGolden(t *testing.T) {
	for _, tc := range []struct{ name, file string }{
		{"pdfcpu-blta", "signed/pdfcpu/ETSI.CAdES.detached_testPAdES_BLTA.pdf"},
		{"dss-pades-lt", "signed/dss/PAdES-LT.pdf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := ValidateFile(context.Background(), filepath.Join(corpusDir(t), tc.file), &Options{Time: corpusTime, Name: filepath.Base(tc.file)})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				ext   string
				write func(*bytes.Buffer) error
			}{
				{".json", func(b *bytes.Buffer) error { return rep.WriteJSON(b) }},
				{".txt", func(b *bytes.Buffer) error { return rep.WriteText(b) }},
				{".xml", func(b *bytes.Buffer) error { return rep.WriteXML(b) }},
			} {
				var b bytes.Buffer
				if err := f.write(&b); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "golden", tc.name+f.ext)
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update)", err)
				}
				if !bytes.Equal(b.Bytes(), want) {
					t.Errorf("%s differs from the golden file (run with -update after checking):\n%s", golden, b.String())
				}
			}
			// The JSON reads back into a Report; the XML is well-formed.
			var b bytes.Buffer
			rep.WriteJSON(&b)
			var back Report
			dec := json.NewDecoder(&b)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&back); err != nil {
				t.Errorf("JSON does not read back: %v", err)
			}
			b.Reset()
			rep.WriteXML(&b)
			if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
				t.Errorf("XML is not well-formed: %v", err)
			}
		})
	}
}
