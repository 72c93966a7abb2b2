package pdf

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
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	dir := filepath.Join(root, "..", "shared", "corpus")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("corpus not found at %s: %v", dir, err)
	}
	return dir
}

func corpusFiles(t testing.TB, sub ...string) []string {
	t.Helper()
	dir := corpusDir(t)
	var out []string
	for _, s := range sub {
		m, err := filepath.Glob(filepath.Join(dir, s, "*.pdf"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	return out
}

func openFile(t testing.TB, path string) (*Reader, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return Open(f, st.Size(), nil)
}
