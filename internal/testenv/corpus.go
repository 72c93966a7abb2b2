package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// CorpusPath returns the path of rel in the shared corpus
// (../shared/corpus beside the repository), failing the test if it is
// not there.
func CorpusPath(t testing.TB, rel string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("corpus file: %v", err)
	}
	return p
}

// Corpus reads rel from the shared corpus.
func Corpus(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(CorpusPath(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// CorpusPDF reads the PDF called name from the corpus's signing inputs
// (inputs/pdfsign).
func CorpusPDF(t testing.TB, name string) []byte {
	t.Helper()
	return Corpus(t, "inputs/pdfsign/"+name)
}
