package signer

import (
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/internal/testpki"
	"github.com/thiqa/thiqa/internal/testtool"
)

// pdfcpuConfig makes a pdfcpu configuration directory that trusts the
// test root and may reach the test PKI's OCSP and CRL servers on
// 127.0.0.1 (pdfcpu refuses loopback revocation URLs by default).
func pdfcpuConfig(t testing.TB, p *testpki.PKI) string {
	t.Helper()
	bin := testtool.Require(t, "pdfcpu")
	dir := t.TempDir()
	root := filepath.Join(dir, "root.crt")
	if err := os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "certificates", "import", "-c", dir, root).CombinedOutput(); err != nil {
		t.Fatalf("pdfcpu certificates import: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "pdfcpu", "config.yml")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "allowedRevocationHosts: []", "allowedRevocationHosts: [127.0.0.1]", 1)
	s = strings.Replace(s, "preferredCertRevocationChecker: crl", "preferredCertRevocationChecker: ocsp", 1)
	if err := os.WriteFile(conf, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

var pdfcpuStatus = regexp.MustCompile(`(?m)^\s*Status: (.*)$`)

// pdfcpuValidate runs pdfcpu signatures validate --all --full and returns
// its output and, per signature, the overall status line.
func pdfcpuValidate(t testing.TB, conf, path string) (string, []string) {
	t.Helper()
	out, st, err := pdfcpuRun(t, conf, path)
	if err != nil {
		t.Errorf("pdfcpu signatures validate: %v\n%s", err, out)
	}
	return out, st
}

func pdfcpuRun(t testing.TB, conf, path string) (string, []string, error) {
	t.Helper()
	out, err := exec.Command(testtool.Require(t, "pdfcpu"), "signatures", "validate", "-c", conf, "--all", "--full", path).CombinedOutput()
	var st []string
	for _, m := range pdfcpuStatus.FindAllStringSubmatch(string(out), -1) {
		if !strings.Contains(m[0], "Local Path") {
			st = append(st, m[1])
		}
	}
	return string(out), st, err
}

// checkPdfcpuLevel checks what pdfcpu v0.15.0 says of the level: it
// concludes at most "PAdES: B-B" for a valid ETSI.CAdES.detached
// signature ("timestamp and DSS evidence do not promote it"), shows the
// signature time-stamp's time for B-T and up, and lists the document
// time-stamp of B-LTA as a valid signature of type "document timestamp".
func checkPdfcpuLevel(t testing.TB, out string, level Level) {
	t.Helper()
	if !regexp.MustCompile(`PAdES:\s+B-B`).MatchString(out) {
		t.Errorf("pdfcpu: no PAdES B-B conclusion\n%s", out)
	}
	hasTS := regexp.MustCompile(`Timestamp:\s+\d{4}-`).MatchString(out)
	if level >= LevelBT && !hasTS {
		t.Errorf("pdfcpu: no signature time-stamp\n%s", out)
	}
	if lta := strings.Contains(out, "Type: document timestamp"); lta != (level == LevelBLTA) {
		t.Errorf("pdfcpu: document time-stamp present = %v at %v\n%s", lta, level, out)
	}
}

func TestPdfcpuLevels(t *testing.T) {
	p := testpki.New(t, &testpki.Options{Now: pdfcpuNow()})
	conf := pdfcpuConfig(t, p)
	for _, xs := range []bool{false, true} {
		in := makePDF(t, 4000, xs)
		for _, level := range []Level{LevelBB, LevelBT, LevelBLT, LevelBLTA} {
			t.Run(level.String(), func(t *testing.T) {
				out := signBytes(t, in, p.SignerKey, options(p, level))
				s, st := pdfcpuValidate(t, conf, writeTemp(t, out))
				for _, v := range st {
					if v != "signature is valid" {
						t.Errorf("pdfcpu: statuses %q\n%s", st, s)
					}
				}
				checkPdfcpuLevel(t, s, level)
			})
		}
	}
}
