package signer

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/internal/testpki"
)

// writeBigPDF writes a one-page PDF of about size bytes to path, streaming
// (the content stream is filler comments).
func writeBigPDF(t testing.TB, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var off int64
	write := func(s string) { n, _ := w.WriteString(s); off += int64(n) }
	offs := make([]int64, 6)
	write("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs[1] = off
	write("1 0 obj\n<</Type /Catalog /Pages 2 0 R>>\nendobj\n")
	offs[2] = off
	write("2 0 obj\n<</Type /Pages /Kids [3 0 R] /Count 1>>\nendobj\n")
	offs[3] = off
	write("3 0 obj\n<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources <<>>>>\nendobj\n")
	line := "% " + strings.Repeat("filler ", 145) + "\n"
	n := size / int64(len(line))
	offs[4] = off
	write(fmt.Sprintf("4 0 obj\n<</Length %d>>\nstream\n", n*int64(len(line))))
	for i := int64(0); i < n; i++ {
		write(line)
	}
	write("\nendstream\nendobj\n")
	start := off
	write("xref\n0 5\n0000000000 65535 f \n")
	for _, o := range offs[1:5] {
		write(fmt.Sprintf("%010d 00000 n \n", o))
	}
	write(fmt.Sprintf("trailer\n<</Size 5 /Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", start))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestPeakRSS signs a 200 MB PDF in a child process and reads its peak
// resident set size (VmHWM). The target is 64 MiB.
func TestPeakRSS(t *testing.T) {
	if os.Getenv("THIQA_RSS_CHILD") == "1" {
		peakRSSChild(t)
		return
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "big.pdf")
	writeBigPDF(t, in, 200<<20)
	cmd := exec.Command(os.Args[0], "-test.run=^TestPeakRSS$", "-test.v")
	cmd.Env = append(os.Environ(), "THIQA_RSS_CHILD=1", "THIQA_RSS_IN="+in, "THIQA_RSS_OUT="+filepath.Join(dir, "out.pdf"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	i := strings.Index(string(out), "VmHWM_kB=")
	if i < 0 {
		t.Fatalf("child printed no VmHWM\n%s", out)
	}
	f := strings.Fields(string(out)[i+len("VmHWM_kB="):])
	kb, _ := strconv.Atoi(f[0])
	t.Logf("peak RSS signing a 200 MB PDF at B-LT: %d kB", kb)
	if kb > 64<<10 {
		t.Errorf("peak RSS %d kB over the 64 MiB target", kb)
	}
}

// peakRSSChild signs THIQA_RSS_IN and prints the peak RSS.
func peakRSSChild(t *testing.T) {
	p := testpki.New(t, nil)
	o := options(p, LevelBLT)
	if err := SignFile(context.Background(), os.Getenv("THIQA_RSS_IN"), os.Getenv("THIQA_RSS_OUT"), p.SignerKey, o); err != nil {
		t.Fatal(err)
	}
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(st), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			fmt.Printf("VmHWM_kB=%s\n", strings.Fields(l)[1])
		}
	}
}
