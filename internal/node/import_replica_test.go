package node

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/store"
)

// TestImportBesideReplica runs `thiqa admin import-identities --store
// postgres://…` from a copy of the data directory while a `thiqa serve`
// replica runs on the same database, then checks that every identity is
// in the database once and that the running replica verifies the audit
// log, which both processes appended to.
func TestImportBesideReplica(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "thiqa")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/thiqa/thiqa/cmd/thiqa").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	thiqa := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "THIQA_STORE="+dsn)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("thiqa %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	dirA, dirB := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	thiqa("init", "--data", dirA)
	thiqa("admin", "centre", "add", "--data", dirA, "--code", "AMM-01", "--name-en", "Amman", "--name-ar", "عمان", "--governorate", "Amman")
	if err := os.CopyFS(dirB, os.DirFS(dirA)); err != nil {
		t.Fatal(err)
	}
	startServe(t, bin, dirA, dsn)

	pop := filepath.Join(tmp, "pop.jsonl")
	thiqa("admin", "generate-population", "--count", "1500", "--out", pop, "--seed", "11")
	if out := thiqa("admin", "import-identities", "--data", dirB, "--progress=false", pop); !strings.Contains(out, "1500 rows: 1500 imported") {
		t.Fatalf("import: %s", out)
	}

	st, err := store.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	count := 0
	err = st.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
		for after := ""; ; {
			page, err := tx.IdentitiesAfter(after, 1000)
			if err != nil || len(page) == 0 {
				return err
			}
			count += len(page)
			after = page[len(page)-1].NationalID
		}
	})
	if err != nil || count != 1500 {
		t.Fatalf("%d identities in the database (%v), want 1500", count, err)
	}
	if out := thiqa("audit", "verify", "--data", dirA); !strings.Contains(out, "OK ") {
		t.Fatalf("audit verify through the replica: %s", out)
	}
}
