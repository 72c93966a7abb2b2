package signer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/thiqa/thiqa/internal/testpki"
)

func TestSerialSignatures(t *testing.T) {
	p := testpki.New(t, nil)
	for _, xs := range []bool{false, true} {
		t.Run(map[bool]string{false: "xref table", true: "xref stream"}[xs], func(t *testing.T) {
			doc := makePDF(t, 2000, xs)
			levels := []Level{LevelBLT, LevelBT, LevelBB}
			for i, level := range levels {
				cert, key := p.IssueSigner(t, testpki.ECDSAP256, "Signer "+string(rune('A'+i)))
				o := options(p, level)
				o.Certificate = cert
				doc = signBytes(t, doc, key, o)
			}
			path := writeTemp(t, doc)
			qpdfCheck(t, path)
			pdfsig(t, path, 3, true)
		})
	}
}

func TestCertification(t *testing.T) {
	p := testpki.New(t, nil)
	in := makePDF(t, 2000, false)
	for _, tt := range []struct {
		perm int
		want error
	}{{1, ErrDocMDP}, {2, nil}, {3, nil}} {
		t.Run("P="+string(rune('0'+tt.perm)), func(t *testing.T) {
			o := options(p, LevelBT)
			o.Certify = tt.perm
			certified := signBytes(t, in, p.SignerKey, o)
			pdfsig(t, writeTemp(t, certified), 1, true)

			// A second certification is never allowed.
			var out bytes.Buffer
			err := Sign(context.Background(), bytes.NewReader(certified), int64(len(certified)), &out, p.SignerKey, o)
			if wantErr := tt.want; wantErr == nil {
				wantErr = ErrCertifyNotFirst
				if !errors.Is(err, wantErr) {
					t.Fatalf("second certification: %v, want %v", err, wantErr)
				}
			}
			// An approval signature is allowed unless P=1.
			out.Reset()
			err = Sign(context.Background(), bytes.NewReader(certified), int64(len(certified)), &out, p.SignerKey, options(p, LevelBB))
			if !errors.Is(err, tt.want) {
				t.Fatalf("approval after P=%d: %v, want %v", tt.perm, err, tt.want)
			}
			if err == nil {
				pdfsig(t, writeTemp(t, out.Bytes()), 2, true)
			}
		})
	}
}

// TestCertifiedLTA certifies with P=1 at B-LTA: the /DSS and the document
// time-stamp that follow are allowed changes.
func TestCertifiedLTA(t *testing.T) {
	p := testpki.New(t, nil)
	o := options(p, LevelBLTA)
	o.Certify = 1
	out := signBytes(t, makePDF(t, 2000, false), p.SignerKey, o)
	path := writeTemp(t, out)
	qpdfCheck(t, path)
	pdfsig(t, path, 1, true)
	renewed, err := Renew(context.Background(), bytes.NewReader(out), int64(len(out)), o)
	if err != nil {
		t.Fatalf("renew a P=1 document: %v", err)
	}
	var b bytes.Buffer
	if _, err := renewed.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	pdfsig(t, writeTemp(t, b.Bytes()), 1, true)
}

func TestRenew(t *testing.T) {
	p := testpki.New(t, nil)
	lta := signBytes(t, makePDF(t, 2000, true), p.SignerKey, options(p, LevelBLTA))
	renewed, err := Renew(context.Background(), bytes.NewReader(lta), int64(len(lta)), options(p, LevelBLTA))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := renewed.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out.Bytes(), lta) {
		t.Fatal("renewal changed the original bytes")
	}
	path := writeTemp(t, out.Bytes())
	qpdfCheck(t, path)
	s := pdfsig(t, path, 1, true)
	if n := bytes.Count([]byte(s), []byte("DocTimeStamp")); n != 2 {
		t.Errorf("%d document time-stamps, want 2\n%s", n, s)
	}
}

func TestSignFile(t *testing.T) {
	p := testpki.New(t, nil)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, makePDF(t, 1000, false), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.pdf")
	if err := SignFile(context.Background(), in, out, p.SignerKey, options(p, LevelBT)); err != nil {
		t.Fatal(err)
	}
	pdfsig(t, out, 1, true)
	// A failure leaves neither the output nor a temporary file.
	bad := filepath.Join(dir, "bad.pdf")
	if err := os.WriteFile(bad, []byte("not a pdf"), 0o600); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(dir, "out2.pdf")
	if err := SignFile(context.Background(), bad, out2, p.SignerKey, options(p, LevelBB)); err == nil {
		t.Fatal("signed a non-PDF")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Fatalf("directory holds %d files, want 3 (in, out, bad)", len(ents))
	}
}

// TestFillField signs the empty signature field of a corpus form by name;
// pdfcpu, which refuses files with unsigned signature fields, accepts the
// result.
func TestFillField(t *testing.T) {
	p := testpki.New(t, &testpki.Options{Now: pdfcpuNow()})
	conf := pdfcpuConfig(t, p)
	in, err := os.ReadFile(filepath.Join(corpusDir(t), "inputs", "pyhanko", "minimal-with-field.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	o := options(p, LevelBT)
	o.FieldName = "Sig1"
	out := signBytes(t, in, p.SignerKey, o)
	path := writeTemp(t, out)
	qpdfCheck(t, path)
	s := pdfsig(t, path, 1, true)
	if !bytes.Contains([]byte(s), []byte("Signature Field Name: Sig1")) {
		t.Errorf("field Sig1 not signed:\n%s", s)
	}
	_, st := pdfcpuValidate(t, conf, path)
	if len(st) != 1 || st[0] != "signature is valid" {
		t.Errorf("pdfcpu: %q", st)
	}
	o.FieldName = "Sig1"
	var b bytes.Buffer
	if err := Sign(context.Background(), bytes.NewReader(out), int64(len(out)), &b, p.SignerKey, o); !errors.Is(err, ErrOptions) {
		t.Fatalf("signing a signed field: %v, want ErrOptions", err)
	}
}
