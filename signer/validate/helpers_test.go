package validate

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// corpusDir returns ../shared/corpus relative to the repository root.
func corpusDir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("corpus not found at %s: %v", dir, err)
	}
	return dir
}

// corpusFiles returns the PDFs under the corpus folder sub.
func corpusFiles(t testing.TB, sub string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(corpusDir(t), sub), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && filepath.Ext(p) == ".pdf" {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tool finds an external checker; it fails under CI=true when missing.
func tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if home, herr := os.UserHomeDir(); herr == nil {
			if q := filepath.Join(home, "go", "bin", name); fileExists(q) {
				return q
			}
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: %v", name, err)
		}
		t.Skipf("%s not installed; install it to run this test", name)
	}
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
