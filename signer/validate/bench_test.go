package validate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	pverify "github.com/digitorus/pdfsign/verify"
	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/internal/testtool"
	"github.com/thiqa/thiqa/signer"
)

// bigPDF returns a one-page PDF of about size bytes (filler in the page
// content stream).
func bigPDF(t testing.TB, size int) []byte {
	t.Helper()
	content := []byte("BT /F1 12 Tf 72 720 Td (Thiqa benchmark document) Tj ET\n")
	for len(content) < size {
		content = append(content, "% filler filler filler filler filler filler filler filler filler\n"...)
	}
	doc := makePDF(t, 1)
	return appendUpdate(t, doc, map[uint32]string{5: fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(content), content)})
}

type benchFile struct {
	name string
	data []byte
	opts *Options
	sigs int
}

// benchFiles builds the two benchmark inputs: a 400 KB single-signature
// B-LT file and a 1.3 MB file with three B-LT signatures.
func benchFiles(b *testing.B) []benchFile {
	b.Helper()
	p := testpki.New(b, nil)
	one := sign(b, bigPDF(b, 400<<10-12<<10), p.SignerKey, signOpts(p, signer.LevelBLT))
	three := sign(b, bigPDF(b, 1300<<10-40<<10), p.SignerKey, signOpts(p, signer.LevelBLT))
	for i := 0; i < 2; i++ {
		cert, key := p.IssueSigner(b, testpki.ECDSAP256, fmt.Sprintf("Signer %d", i+2))
		o := signOpts(p, signer.LevelBLT)
		o.Certificate = cert
		three = sign(b, three, key, o)
	}
	return []benchFile{
		{"400KB-1sig-BLT", one, trusting(p), 1},
		{"1.3MB-3sig-BLT", three, trusting(p), 3},
	}
}

// cpuTime returns the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-ms/op metric: on a loaded machine it is steadier
// than ns/op.
func reportCPU(b *testing.B, start time.Duration, extra time.Duration) {
	b.ReportMetric(float64(cpuTime()-start+extra)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkVerify measures full validation (chain, embedded revocation,
// modification analysis) against pdfsig and pdfsign's verify package on
// the same files, in the same run.
func BenchmarkVerify(b *testing.B) {
	files := benchFiles(b)
	dir := b.TempDir()
	for _, f := range files {
		path := filepath.Join(dir, f.name+".pdf")
		if err := os.WriteFile(path, f.data, 0o600); err != nil {
			b.Fatal(err)
		}
		b.Run("thiqa/"+f.name, func(b *testing.B) {
			b.SetBytes(int64(len(f.data)))
			b.ReportAllocs()
			defer reportCPU(b, cpuTime(), 0)
			for i := 0; i < b.N; i++ {
				rep, err := Validate(context.Background(), bytes.NewReader(f.data), int64(len(f.data)), f.opts)
				if err != nil {
					b.Fatal(err)
				}
				if rep.Indication != TotalPassed || len(rep.Signatures) != f.sigs {
					b.Fatalf("%s/%s with %d signatures", rep.Indication, rep.SubIndication, len(rep.Signatures))
				}
			}
		})
		b.Run("pdfsign-verify/"+f.name, func(b *testing.B) {
			b.SetBytes(int64(len(f.data)))
			b.ReportAllocs()
			opts := pverify.DefaultVerifyOptions()
			opts.AllowUntrustedRoots = true
			defer reportCPU(b, cpuTime(), 0)
			for i := 0; i < b.N; i++ {
				if _, err := pverify.VerifyWithOptions(bytes.NewReader(f.data), int64(len(f.data)), opts); err != nil {
					b.Logf("pdfsign verify: %v", err)
				}
			}
		})
		b.Run("pdfsig/"+f.name, func(b *testing.B) {
			pdfsig := testtool.Require(b, "pdfsig")
			b.SetBytes(int64(len(f.data)))
			var child time.Duration
			for i := 0; i < b.N; i++ {
				cmd := exec.Command(pdfsig, "-no-ocsp", path)
				out, err := cmd.CombinedOutput()
				if err != nil && !bytes.Contains(out, []byte("Signature #")) {
					b.Fatalf("pdfsig: %v\n%s", err, out)
				}
				child += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
			b.ReportMetric(float64(child)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}
