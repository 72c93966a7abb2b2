package catalogue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/thiqa/thiqa/platform/catalogue"
	"github.com/thiqa/thiqa/store"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
)

func sample(t testing.TB, ext string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "catalogue", "sample."+ext))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newCatalogue(t testing.TB) (*catalogue.Catalogue, *store.Bolt) {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "thiqa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return catalogue.New(st, catalogue.Options{Clock: func() time.Time { return t0 }}), st
}

// TestSampleFormatsAgree: the CSV and JSONL samples hold the same
// services, and writing the JSONL one as CSV gives the CSV file byte for
// byte.
func TestSampleFormatsAgree(t *testing.T) {
	fromCSV, err := catalogue.Decode(bytes.NewReader(sample(t, "csv")), catalogue.CSV, catalogue.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fromJSONL, err := catalogue.Decode(bytes.NewReader(sample(t, "jsonl")), catalogue.JSONL, catalogue.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fromCSV) < 30 || !reflect.DeepEqual(fromCSV, fromJSONL) {
		t.Fatalf("CSV has %d services, JSONL %d, equal=%v", len(fromCSV), len(fromJSONL), reflect.DeepEqual(fromCSV, fromJSONL))
	}
	var out bytes.Buffer
	if err := catalogue.Encode(&out, catalogue.CSV, fromJSONL); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), sample(t, "csv")) {
		t.Errorf("CSV written from the JSONL sample differs from sample.csv:\n%s", out.String())
	}
	out.Reset()
	if err := catalogue.Encode(&out, catalogue.JSONL, fromCSV); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), sample(t, "jsonl")) {
		t.Errorf("JSONL written from the CSV sample differs from sample.jsonl")
	}
}

func TestImportIsIdempotentAndExportRoundTrips(t *testing.T) {
	c, _ := newCatalogue(t)
	var progress []int64
	ch, err := c.Import(ctx, bytes.NewReader(sample(t, "csv")), catalogue.CSV, catalogue.DecodeOptions{Progress: func(n int64) { progress = append(progress, n) }})
	if err != nil || ch.Created != 31 || ch.Updated+ch.Unchanged != 0 {
		t.Fatalf("first import = %+v, %v", ch, err)
	}
	if len(progress) == 0 || progress[len(progress)-1] != int64(len(sample(t, "csv"))) {
		t.Errorf("progress %v, want to end at the file size %d", progress, len(sample(t, "csv")))
	}
	ch, err = c.Import(ctx, bytes.NewReader(sample(t, "jsonl")), catalogue.JSONL, catalogue.DecodeOptions{})
	if err != nil || ch != (store.CatalogueChanges{Unchanged: 31}) {
		t.Fatalf("same catalogue again as JSONL = %+v, %v", ch, err)
	}
	edited := strings.Replace(string(sample(t, "csv")), "Passport renewal,", "Passport renewal (5 years),", 1)
	ch, err = c.Import(ctx, strings.NewReader(edited), catalogue.CSV, catalogue.DecodeOptions{})
	if err != nil || ch != (store.CatalogueChanges{Updated: 1, Unchanged: 30}) {
		t.Fatalf("one service edited = %+v, %v", ch, err)
	}
	svc, err := c.Service(ctx, "CSPD-002")
	if err != nil || svc.NameEn != "Passport renewal (5 years)" || svc.Version != 2 || svc.FeeFils != 50000 {
		t.Fatalf("Service(CSPD-002) = %+v, %v", svc, err)
	}
	var out bytes.Buffer
	if err := c.Export(ctx, &out, catalogue.CSV); err != nil {
		t.Fatal(err)
	}
	if out.String() != edited {
		t.Errorf("export differs from what was imported:\n%s", out.String())
	}
	if _, err := c.Service(ctx, "NOPE-1"); !errors.Is(err, catalogue.ErrNotFound) {
		t.Errorf("Service(unknown) = %v, want ErrNotFound", err)
	}
}

func TestDecodeErrorsNameTheLine(t *testing.T) {
	header := strings.Join(catalogue.Columns, ",") + "\n"
	good := "A-1,MOI,اسم,Name,,,1000,online,,true,false\n"
	tests := []struct {
		name   string
		format catalogue.Format
		in     string
		want   []string // substrings of the error
	}{
		{"empty CSV", catalogue.CSV, "", []string{"line 1", "header"}},
		{"unknown column", catalogue.CSV, "code,agency,colour\n", []string{"line 1", `unknown column "colour"`}},
		{"missing column", catalogue.CSV, "code,agency\n", []string{"line 1", `missing column "name_ar"`}},
		{"float fee", catalogue.CSV, header + good + "B-2,MOI,اسم,Name,,,12.5,online,,true,false\n", []string{"line 3", "whole number of fils"}},
		{"negative fee", catalogue.CSV, header + "B-2,MOI,اسم,Name,,,-5,online,,true,false\n", []string{"line 2", "fee_fils -5"}},
		{"bad channel", catalogue.CSV, header + "B-2,MOI,اسم,Name,,,5,post,,true,false\n", []string{"line 2", `channel "post"`}},
		{"bad boolean", catalogue.CSV, header + "B-2,MOI,اسم,Name,,,5,online,,maybe,false\n", []string{"line 2", "signature_required"}},
		{"lower-case code", catalogue.CSV, header + "b-2,MOI,اسم,Name,,,5,online,,true,false\n", []string{"line 2", `code "b-2"`}},
		{"no Arabic name", catalogue.CSV, header + "B-2,MOI,,Name,,,5,online,,true,false\n", []string{"line 2", "name_ar"}},
		{"short record", catalogue.CSV, header + "B-2,MOI\n", []string{"line 2", "2 fields"}},
		{"unclosed quote", catalogue.CSV, header + good + "\"B-2,MOI\n", []string{"line 3"}},
		{"duplicate code", catalogue.CSV, header + good + good, []string{"A-1", "twice"}},
		{"several errors", catalogue.CSV, header + "x,MOI,a,b,,,1,online,,,\n" + good + "y,MOI,a,b,,,1,online,,,\n", []string{"line 2", "line 4"}},
		{"JSONL unknown field", catalogue.JSONL, `{"code":"A-1","colour":"red"}` + "\n", []string{"line 1", "colour"}},
		{"JSONL fee as string", catalogue.JSONL, "\n\n" + `{"code":"A-1","fee_fils":"5"}`, []string{"line 3"}},
		{"JSONL float fee", catalogue.JSONL, `{"code":"A-1","agency":"MOI","name_ar":"ا","name_en":"a","fee_fils":1.5,"channel":"online"}`, []string{"line 1"}},
		{"JSONL two values", catalogue.JSONL, `{"code":"A-1"} {"code":"A-2"}`, []string{"line 1", "more than one"}},
		{"JSONL huge line", catalogue.JSONL, `{"code":"` + strings.Repeat("A", catalogue.MaxLine) + `"}`, []string{"too long"}},
		{"CSV huge field", catalogue.CSV, header + `"` + strings.Repeat("A", catalogue.MaxLine+10), []string{"longer than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svcs, err := catalogue.Decode(strings.NewReader(tt.in), tt.format, catalogue.DecodeOptions{})
			if !errors.Is(err, catalogue.ErrInvalid) || svcs != nil {
				t.Fatalf("Decode = %d services, %v; want ErrInvalid", len(svcs), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestBadImportChangesNothing: a file with one bad line stores none of
// its good ones.
func TestBadImportChangesNothing(t *testing.T) {
	c, st := newCatalogue(t)
	in := string(sample(t, "csv")) + "ZZ-1,MOI,اسم,Name,,,5,teleport,,true,false\n"
	if _, err := c.Import(ctx, strings.NewReader(in), catalogue.CSV, catalogue.DecodeOptions{}); !errors.Is(err, catalogue.ErrInvalid) {
		t.Fatalf("import = %v", err)
	}
	if all, _ := st.CatalogueServices(ctx, store.Page{}); len(all) != 0 {
		t.Fatalf("%d services stored from a bad file", len(all))
	}
}

func TestSearch(t *testing.T) {
	c, _ := newCatalogue(t)
	if _, err := c.Import(ctx, bytes.NewReader(sample(t, "csv")), catalogue.CSV, catalogue.DecodeOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		q    catalogue.Query
		want string
	}{
		{"English word, any case", catalogue.Query{Text: "PASSPORT"}, "CSPD-002"},
		{"Arabic with ta marbuta written as ha", catalogue.Query{Text: "شهاده ميلاد"}, "CSPD-001"},
		{"Arabic with diacritics", catalogue.Query{Text: "شَهَادَة مِيلاد"}, "CSPD-001"},
		{"hamza alef written bare", catalogue.Query{Text: "الاحوال المدنيه"}, "CSPD-003"},
		{"hamza alef in the text, bare in the query", catalogue.Query{Text: "اصدار", Agency: "CSPD"}, "CSPD-001,CSPD-003,CSPD-004,CSPD-005"},
		{"every word must match", catalogue.Query{Text: "certificate death"}, "CSPD-005"},
		{"agency filter", catalogue.Query{Agency: "DLS"}, "DLS-001,DLS-002,DLS-003"},
		{"agency and text", catalogue.Query{Agency: "DVLD", Text: "رخصة"}, "DVLD-001"},
		{"by code", catalogue.Query{Text: "moe-002"}, "MOE-002"},
		{"page", catalogue.Query{Agency: "CSPD", After: "CSPD-002", Limit: 2}, "CSPD-003,CSPD-004"},
		{"no match", catalogue.Query{Text: "spaceship"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Search(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var codes []string
			for _, s := range got {
				codes = append(codes, s.Code)
			}
			if strings.Join(codes, ",") != tt.want {
				t.Errorf("Search(%+v) = %v, want %s", tt.q, codes, tt.want)
			}
		})
	}
	agencies, err := c.Agencies(ctx)
	if err != nil || len(agencies) != 14 || agencies[0] != "CCD" {
		t.Errorf("Agencies() = %v, %v", agencies, err)
	}
}

// TestSearchSeesOtherWriters: a catalogue on the same store sees another
// one's import (as replicas do) through the store's version.
func TestSearchSeesOtherWriters(t *testing.T) {
	a, st := newCatalogue(t)
	b := catalogue.New(st, catalogue.Options{})
	if got, _ := b.Search(ctx, catalogue.Query{}); len(got) != 0 {
		t.Fatalf("empty catalogue lists %d", len(got))
	}
	svc := catalogue.Service{Code: "X-1", Agency: "MOI", NameAr: "خدمة", NameEn: "Service", Channel: "ONLINE "}
	if _, err := a.Put(ctx, svc); err != nil {
		t.Fatal(err)
	}
	got, err := b.Search(ctx, catalogue.Query{Text: "service"})
	if err != nil || len(got) != 1 || got[0].Channel != store.ChannelOnline {
		t.Fatalf("other catalogue sees %+v, %v", got, err)
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"أحمد إبراهيم آمنة":     "احمد ابراهيم امنه",
		"مُحَمَّد":              "محمد",
		"مصطفى":                 "مصطفي",
		"شـــهادة":              "شهاده",
		"Birth-Certificate (5)": "birth certificate 5",
		"  مؤسسة   فردية ":      "موسسه فرديه",
		"خدمة ٢٤ و۳":            "خدمه 24 و3",
	} {
		if got := catalogue.Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkSearch searches a catalogue of 2,460 services (the national
// size) by an Arabic word.
func BenchmarkSearch(b *testing.B) {
	c, _ := newCatalogue(b)
	var svcs []catalogue.Service
	for i := range 2460 {
		svcs = append(svcs, catalogue.Service{Code: fmt.Sprintf("S-%04d", i), Agency: fmt.Sprintf("AG%02d", i%40),
			NameAr: fmt.Sprintf("خدمة رقم %d للمواطنين", i), NameEn: fmt.Sprintf("Service number %d", i),
			DescriptionAr: "وصف الخدمة الحكومية الإلكترونية", DescriptionEn: "Description of the e-government service",
			FeeFils: int64(i), Channel: "online"})
	}
	if _, err := c.Put(ctx, svcs...); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if got, err := c.Search(ctx, catalogue.Query{Text: "خدمه 24"}); err != nil || len(got) == 0 {
			b.Fatal(got, err)
		}
	}
}

// BenchmarkImport2460 imports a national-size catalogue (2,460 services,
// JSONL) into bbolt: decode, validate and one upsert transaction. Every
// other run changes every fee, so half the imports write everything.
func BenchmarkImport2460(b *testing.B) {
	c, _ := newCatalogue(b)
	files := make([][]byte, 2)
	for v := range files {
		var svcs []catalogue.Service
		for i := range 2460 {
			svcs = append(svcs, catalogue.Service{Code: fmt.Sprintf("S-%04d", i), Agency: fmt.Sprintf("AG%02d", i%40),
				NameAr: fmt.Sprintf("خدمة رقم %d", i), NameEn: fmt.Sprintf("Service %d", i), FeeFils: int64(i + v), Channel: "online",
				Documents: []string{"national ID"}})
		}
		var buf bytes.Buffer
		catalogue.Encode(&buf, catalogue.JSONL, svcs)
		files[v] = buf.Bytes()
	}
	b.SetBytes(int64(len(files[0])))
	i := 0
	for b.Loop() {
		if _, err := c.Import(ctx, bytes.NewReader(files[i%2]), catalogue.JSONL, catalogue.DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
