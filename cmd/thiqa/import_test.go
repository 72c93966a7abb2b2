package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestImportIdentities generates a population with the CLI, imports it,
// imports it again (everything skipped), imports a file with bad rows
// (each named by its line, exit status 1), and checks the audit log
// verifies afterwards.
func TestImportIdentities(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, code := run(t, nil, "init", "--data", data); code != 0 {
		t.Fatalf("init: %s", out)
	}
	for _, c := range []string{"AMM-01", "IRB-01"} {
		if out, code := run(t, nil, "admin", "centre", "add", "--data", data, "--code", c, "--name-en", c, "--name-ar", "مركز", "--governorate", "Amman"); code != 0 {
			t.Fatalf("centre add: %s", out)
		}
	}
	pop := filepath.Join(dir, "pop.csv")
	out, code := run(t, nil, "admin", "generate-population", "--count", "2000", "--out", pop, "--seed", "4", "--centres", "AMM-01,IRB-01")
	if code != 0 || !strings.Contains(out, "2000 identities") {
		t.Fatalf("generate-population: exit %d: %s", code, out)
	}
	if out, code := run(t, nil, "admin", "generate-population", "--count", "10", "--out", pop); code == 0 || !strings.Contains(out, "exists") {
		t.Errorf("generate-population over a file: exit %d: %s", code, out)
	}
	jsonl := filepath.Join(dir, "pop.jsonl")
	if out, code := run(t, nil, "admin", "generate-population", "--count", "2000", "--out", jsonl, "--seed", "4", "--centres", "AMM-01,IRB-01"); code != 0 {
		t.Fatalf("generate-population: %s", out)
	}

	out, code = run(t, nil, "admin", "import-identities", "--data", data, "--batch", "300", pop)
	if code != 0 || !strings.Contains(out, "2000 rows: 2000 imported, 0 skipped (present already), 0 refused") {
		t.Fatalf("import: exit %d: %s", code, out)
	}
	// The same identities as JSON Lines: all present already.
	out, code = run(t, nil, "admin", "import-identities", "--data", data, jsonl)
	if code != 0 || !strings.Contains(out, "2000 rows: 0 imported, 2000 skipped") {
		t.Fatalf("second import: exit %d: %s", code, out)
	}

	// Bad rows: a short national number, an unknown centre, a wrong
	// column count; a good row after them is imported.
	lines := strings.Split(strings.TrimSpace(readFile(t, pop)), "\n")
	fresh := filepath.Join(dir, "fresh.csv")
	if out, code := run(t, nil, "admin", "generate-population", "--count", "1", "--out", fresh, "--seed", "99"); code != 0 {
		t.Fatalf("generate-population: %s", out)
	}
	good := strings.Split(strings.TrimSpace(readFile(t, fresh)), "\n")[1]
	bad := filepath.Join(dir, "bad.csv")
	body := strings.Join([]string{lines[0],
		"12" + lines[1][10:],
		otherCentre(lines[2]),
		otherCentre(lines[3]),
		"a,b",
		good}, "\n") + "\n"
	if err := os.WriteFile(bad, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = run(t, nil, "admin", "import-identities", "--data", data, "--progress=false", bad)
	if code != 1 || !strings.Contains(out, "5 rows: 1 imported, 0 skipped (present already), 4 refused") {
		t.Fatalf("bad import: exit %d: %s", code, out)
	}
	for _, want := range []string{bad + ":2: invalid input: national number", bad + ":3: not found: centre ZRQ-09",
		bad + ":4: not found: centre ZRQ-09", bad + ":5: 2 columns, the header has 14", "4 rows refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("bad import output lacks %q:\n%s", want, out)
		}
	}
	if out, code := run(t, nil, "admin", "import-identities", "--data", data, filepath.Join(dir, "pop.txt")); code == 0 || !strings.Contains(out, "want csv or jsonl") {
		t.Errorf("unknown format: exit %d: %s", code, out)
	}

	if out, code := run(t, nil, "audit", "checkpoint", "--sign", "--data", data); code != 0 {
		t.Fatalf("audit checkpoint: exit %d: %s", code, out)
	}
	out, code = run(t, nil, "audit", "verify", "--data", data)
	if code != 0 {
		t.Fatalf("audit verify: exit %d: %s", code, out)
	}
	// Centres, 2001 imports and the ceremony's records.
	m := regexp.MustCompile(`OK (\d+) records`).FindStringSubmatch(out + "OK 0 records")
	if n, _ := strconv.Atoi(m[1]); n < 2001+2 {
		t.Errorf("audit verify checked too few records:\n%s", out)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// otherCentre moves a generated CSV row to a centre that does not exist.
func otherCentre(row string) string {
	return strings.NewReplacer(",AMM-01,", ",ZRQ-09,", ",IRB-01,", ",ZRQ-09,").Replace(row)
}
