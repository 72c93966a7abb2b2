package catalogue_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/thiqa/thiqa/platform/catalogue"
)

// fuzzDecode checks that Decode never panics and that what it accepts
// survives a write and a second read unchanged.
func fuzzDecode(t *testing.T, f catalogue.Format, in []byte) {
	svcs, err := catalogue.Decode(bytes.NewReader(in), f, catalogue.DecodeOptions{})
	if err != nil {
		return
	}
	var out bytes.Buffer
	if err := catalogue.Encode(&out, f, svcs); err != nil {
		t.Fatalf("encode accepted services: %v", err)
	}
	again, err := catalogue.Decode(bytes.NewReader(out.Bytes()), f, catalogue.DecodeOptions{})
	if err != nil {
		t.Fatalf("re-read of written catalogue: %v\n%s", err, out.Bytes())
	}
	if !reflect.DeepEqual(svcs, again) {
		t.Fatalf("round trip changed services:\n%+v\n%+v", svcs, again)
	}
}

func FuzzDecodeCSV(f *testing.F) {
	f.Add(sample(f, "csv"))
	f.Add([]byte("code,agency,name_ar,name_en,fee_fils,channel\nA-1,MOI,ا,a,1,online\n"))
	f.Add([]byte("\xef\xbb\xbfcode,agency,name_ar,name_en,fee_fils,channel,documents\n\"A-1\",MOI,\"ا\"\"\",a,0,centre,x|y\n"))
	f.Fuzz(func(t *testing.T, in []byte) { fuzzDecode(t, catalogue.CSV, in) })
}

func FuzzDecodeJSONL(f *testing.F) {
	f.Add(sample(f, "jsonl"))
	f.Add([]byte(`{"code":"A-1","agency":"MOI","name_ar":"ا","name_en":"a","fee_fils":1,"channel":"online","documents":[" x "]}`))
	f.Fuzz(func(t *testing.T, in []byte) { fuzzDecode(t, catalogue.JSONL, in) })
}
