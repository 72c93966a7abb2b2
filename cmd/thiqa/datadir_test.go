package main

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runIn runs thiqa in dir with env added and returns its output and exit
// code.
func runIn(t *testing.T, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(thiqaBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// listing returns what "thiqa ca list" prints for the data directory, which
// must not change across refused commands.
func listing(t *testing.T, env []string, data string) string {
	t.Helper()
	out, code := run(t, env, "--data", data, "ca", "list")
	if code != 0 {
		t.Fatalf("ca list: exit %d\n%s", code, out)
	}
	return out
}

// TestDataDirectoryDefaults checks where the data and the key-encryption key
// live when no flag says: ./thiqa-data, $THIQA_DATA, $THIQA_KEK; that a
// wrong or missing KEK is refused with a clear message and a non-zero exit;
// and that the ceremony's names and URLs come from its flags.
func TestDataDirectoryDefaults(t *testing.T) {
	t.Setenv("THIQA_DATA", "")
	t.Setenv("THIQA_KEK", "")
	t.Setenv("THIQA_STORE", "")
	t.Setenv("THIQA_HSM", "")

	t.Run("WorkingDirectory", func(t *testing.T) {
		wd := t.TempDir()
		out, code := runIn(t, wd, nil, "init")
		if code != 0 || !strings.Contains(out, "created data directory thiqa-data") {
			t.Fatalf("init with no flags: exit %d\n%s", code, out)
		}
		for _, name := range []string{"kek", "thiqa.db"} {
			st, err := os.Stat(filepath.Join(wd, "thiqa-data", name))
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("thiqa-data/%s: %v %v", name, st, err)
			}
		}
		if out, code := runIn(t, wd, nil, "init"); code != 1 || !strings.Contains(out, "already done") {
			t.Errorf("second init in the same directory: exit %d\n%s", code, out)
		}
	})

	t.Run("EnvironmentAndFlags", func(t *testing.T) {
		wd := t.TempDir()
		data := filepath.Join(wd, "d")
		raw := make([]byte, 32)
		rand.Read(raw)
		kek := "THIQA_KEK=" + base64.StdEncoding.EncodeToString(raw)
		env := []string{"THIQA_DATA=" + data, kek}
		out, code := runIn(t, wd, env, "init", "--organization", "Test Trust Services", "--country", "JO",
			"--public-url", "http://pki.test.example")
		if code != 0 {
			t.Fatalf("init with THIQA_DATA and THIQA_KEK: exit %d\n%s", code, out)
		}
		if !strings.Contains(out, "O=Test Trust Services,C=JO") {
			t.Errorf("--organization not in the root's name:\n%s", out)
		}
		if strings.Contains(out, "created key-encryption key") {
			t.Errorf("init created a KEK file although THIQA_KEK was set:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(data, "kek")); !os.IsNotExist(err) {
			t.Errorf("a KEK file was written although THIQA_KEK was set: %v", err)
		}
		if _, err := os.Stat(filepath.Join(wd, "thiqa-data")); !os.IsNotExist(err) {
			t.Errorf("THIQA_DATA ignored: ./thiqa-data exists (%v)", err)
		}
		for _, name := range []string{"thiqa.db", "keys"} {
			if _, err := os.Stat(filepath.Join(data, name)); err != nil {
				t.Errorf("THIQA_DATA: %v", err)
			}
		}

		// An issued certificate carries the ceremony's public URL.
		dir := t.TempDir()
		csrFile, subj := issueInputs(t, dir, citizenSubject)
		certFile := filepath.Join(dir, "c.pem")
		if out, code := runIn(t, wd, env, "ca", "issue", "--profile", "citizen-auth", "--csr", csrFile, "--subject-json", subj, "--out", certFile); code != 0 {
			t.Fatalf("ca issue: exit %d\n%s", code, out)
		}
		block, _ := pem.Decode(must(os.ReadFile(certFile)))
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if len(cert.CRLDistributionPoints) == 0 || !strings.HasPrefix(cert.CRLDistributionPoints[0], "http://pki.test.example/") ||
			len(cert.OCSPServer) == 0 || !strings.HasPrefix(cert.OCSPServer[0], "http://pki.test.example/") {
			t.Errorf("--public-url not in the certificate: CDP %v OCSP %v", cert.CRLDistributionPoints, cert.OCSPServer)
		}
		if len(cert.Issuer.Organization) != 1 || cert.Issuer.Organization[0] != "Test Trust Services" {
			t.Errorf("issuer organisation %v", cert.Issuer.Organization)
		}
		before := listing(t, env, data)

		// Without the KEK, or with another one, nothing opens.
		other := make([]byte, 32)
		rand.Read(other)
		for _, tc := range []struct {
			name string
			env  []string
			want string
		}{
			{"no KEK", []string{"THIQA_DATA=" + data}, "kek"},
			{"wrong KEK", []string{"THIQA_DATA=" + data, "THIQA_KEK=" + base64.StdEncoding.EncodeToString(other)}, "key-encryption key is wrong"},
			{"malformed KEK", []string{"THIQA_DATA=" + data, "THIQA_KEK=not a key"}, "key-encryption key is wrong or malformed"},
			{"short KEK", []string{"THIQA_DATA=" + data, "THIQA_KEK=" + base64.StdEncoding.EncodeToString(other[:16])}, "want 32 bytes"},
		} {
			out, code := runIn(t, wd, tc.env, "ca", "issue", "--profile", "citizen-auth", "--csr", csrFile, "--subject-json", subj)
			if code == 0 || !strings.Contains(out, tc.want) || strings.Contains(out, "BEGIN CERTIFICATE") {
				t.Errorf("%s: exit %d, want an error with %q:\n%s", tc.name, code, tc.want, out)
			}
		}
		if _, err := os.Stat(filepath.Join(data, "kek")); !os.IsNotExist(err) {
			t.Errorf("a refused start wrote a KEK file: %v", err)
		}
		if after := listing(t, env, data); after != before {
			t.Errorf("refused commands changed the store:\n%s\n---\n%s", before, after)
		}
	})
}

// TestCAHoldAndRelease drives suspension through the operator commands with
// no server running: hold, show, list, release, then a final revocation
// that release cannot undo.
func TestCAHoldAndRelease(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if out, code := run(t, nil, "--data", data, "init"); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	dir := t.TempDir()
	csrFile, subj := issueInputs(t, dir, esealSubject)
	certFile := filepath.Join(dir, "c.pem")
	if out, code := run(t, nil, "--data", data, "ca", "issue", "--profile", "eseal", "--csr", csrFile, "--subject-json", subj, "--out", certFile); code != 0 {
		t.Fatalf("ca issue eseal: exit %d\n%s", code, out)
	}
	block, _ := pem.Decode(must(os.ReadFile(certFile)))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	serial := cert.SerialNumber.Text(16)

	show := func() map[string]any {
		t.Helper()
		out, code := run(t, nil, "--data", data, "ca", "show", serial, "--format", "json")
		if code != 0 {
			t.Fatalf("ca show --format json: exit %d\n%s", code, out)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("ca show --format json is not JSON: %v\n%s", err, out)
		}
		return m
	}
	status := func() string {
		t.Helper()
		m := show()
		for k, v := range m {
			if strings.EqualFold(k, "status") {
				s, _ := v.(string)
				return s
			}
		}
		t.Fatalf("no status in %v", m)
		return ""
	}
	valid := status()

	if out, code := run(t, nil, "--data", data, "ca", "release", serial); code == 0 || !strings.Contains(out, "hold") {
		t.Errorf("release of a valid certificate: exit %d\n%s", code, out)
	}
	if out, code := run(t, nil, "--data", data, "ca", "revoke", serial, "--reason", "certificateHold"); code != 0 || !strings.Contains(out, "certificateHold") {
		t.Fatalf("ca revoke --reason certificateHold: exit %d\n%s", code, out)
	}
	if s := status(); s == valid {
		t.Errorf("status after hold = %q, same as before", s)
	}
	if out, code := run(t, nil, "--data", data, "ca", "show", serial); code != 0 || !strings.Contains(out, "reason:     certificateHold") {
		t.Errorf("ca show of a held certificate: exit %d\n%s", code, out)
	}
	out, code := run(t, nil, "--data", data, "ca", "crl", "org-ca")
	if code != 0 || !strings.Contains(out, "BEGIN X509 CRL") {
		t.Fatalf("ca crl org-ca: exit %d\n%s", code, out)
	}
	if !crlLists(t, out, cert) {
		t.Error("held certificate not on the organisation CA's CRL")
	}
	if out, code := run(t, nil, "--data", data, "ca", "list", "--issuer", "org-ca"); code != 0 || !strings.Contains(out, serial) {
		t.Errorf("ca list --issuer org-ca: exit %d\n%s", code, out)
	}
	if out, code := run(t, nil, "--data", data, "ca", "list", "--issuer", "citizen-ca"); code != 0 || strings.Contains(out, serial) {
		t.Errorf("ca list --issuer citizen-ca lists an e-seal: exit %d\n%s", code, out)
	}

	if out, code := run(t, nil, "--data", data, "ca", "release", serial); code != 0 {
		t.Fatalf("ca release: exit %d\n%s", code, out)
	}
	if s := status(); s != valid {
		t.Errorf("status after release = %q, want %q", s, valid)
	}
	out, _ = run(t, nil, "--data", data, "ca", "crl", "org-ca")
	if crlLists(t, out, cert) {
		t.Error("released certificate still on the CRL")
	}

	// A final revocation is never undone.
	if out, code := run(t, nil, "--data", data, "ca", "revoke", serial, "--reason", "cessationOfOperation"); code != 0 {
		t.Fatalf("ca revoke: exit %d\n%s", code, out)
	}
	before := show()
	for _, args := range [][]string{
		{"ca", "release", serial},
		{"ca", "revoke", serial, "--reason", "certificateHold"},
		{"ca", "show", serial, "--format", "yaml"},
		{"ca", "crl", "no-such-ca"},
	} {
		if out, code := run(t, nil, append([]string{"--data", data}, args...)...); code == 0 {
			t.Errorf("thiqa %s: exit 0\n%s", strings.Join(args, " "), out)
		}
	}
	if after := show(); !jsonEqual(before, after) {
		t.Errorf("refused commands changed the certificate:\n%v\n%v", before, after)
	}
}

// crlLists reports whether the PEM CRL in out lists cert's serial.
func crlLists(t *testing.T, out string, cert *x509.Certificate) bool {
	t.Helper()
	i := strings.Index(out, "-----BEGIN X509 CRL")
	if i < 0 {
		t.Fatalf("no CRL in:\n%s", out)
	}
	block, _ := pem.Decode([]byte(out[i:]))
	if block == nil {
		t.Fatalf("bad CRL PEM:\n%s", out)
	}
	crl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return true
		}
	}
	return false
}

func jsonEqual(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
