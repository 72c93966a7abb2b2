package validate

import (
	"os"
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
