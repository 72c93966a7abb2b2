package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/store"
)

// fillScale loads n synthetic identities (with their generation IDs), n
// citizen sessions and 2n certificates (one in a hundred revoked) with
// generate_series, as a national population would, and analyzes the
// tables. Identity i has national number %010d of i, session i the token
// hash sha256 of i as 8 big-endian bytes, certificate serials are %032x.
func fillScale(tb testing.TB, dsn string, n int) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		`INSERT INTO enr_identities (national_id, id, version, doc)
		 SELECT lpad(g::text, 10, '0'), 'gen-' || g, 1, jsonb_build_object(
			'national_id', lpad(g::text, 10, '0'), 'id', 'gen-' || g, 'generation', 1, 'state', 'active',
			'enrollment', 'enr-' || lpad(g::text, 8, '0'), 'centre', 'AMM-01', 'given_name', 'Sara', 'surname', 'Nasser',
			'given_name_ar', 'سارة', 'surname_ar', 'ناصر', 'key_id', 'citizen-gen-' || g,
			'signing_cert', lpad(to_hex(2 * g), 32, '0'), 'auth_cert', lpad(to_hex(2 * g + 1), 32, '0'),
			'created_at', '2026-11-02T09:30:00Z', 'updated_at', '2026-11-02T09:30:00Z', 'version', 1)
		 FROM generate_series(1, $1) g`,
		`INSERT INTO enr_identity_ids (id, national_id) SELECT 'gen-' || g, lpad(g::text, 10, '0') FROM generate_series(1, $1) g`,
		`INSERT INTO enr_sessions (hash, expires, doc)
		 SELECT sha256(int8send(g)), '2030-01-01T00:00:00Z', jsonb_build_object(
			'hash', encode(sha256(int8send(g)), 'base64'), 'kind', 'citizen', 'subject', 'gen-' || g,
			'national_id', lpad(g::text, 10, '0'), 'created', '2026-11-02T09:30:00Z', 'expires', '2030-01-01T00:00:00Z')
		 FROM generate_series(1, $1) g`,
		`INSERT INTO certificates (serial, issuer, profile, subject, not_before, not_after, issued_at, der, status, revoked_at, reason, version)
		 SELECT lpad(to_hex(g), 32, '0'), 'citizen-ca', CASE WHEN g % 2 = 0 THEN 'citizen-signing' ELSE 'citizen-auth' END,
			'CN=Sara Nasser', '2026-11-02', '2028-11-02', '2026-11-02', '\x3082'::bytea,
			CASE WHEN g % 100 = 0 THEN 'revoked' ELSE 'valid' END, CASE WHEN g % 100 = 0 THEN timestamptz '2026-11-03' END, 0, 1
		 FROM generate_series(2, 2 * $1 + 1) g`,
	} {
		if _, err := conn.Exec(ctx, sql, n); err != nil {
			tb.Fatalf("fill %d rows: %v", n, err)
		}
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		tb.Fatalf("analyze: %v", err)
	}
}

func sessionHash(i int) []byte {
	h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
	return h[:]
}

// hotQueries are the statements the store runs for an OCSP lookup, a
// session lookup, an identity lookup and a sign-in's identity by
// generation ID, with sample arguments.
var hotQueries = []struct {
	name, sql string
	arg       any
}{
	{"OCSP: certificate by serial", "SELECT serial, issuer, profile, subject, not_before, not_after, issued_at, der, status, revoked_at, reason, version FROM certificates WHERE serial = $1", fmt.Sprintf("%032x", 4242)},
	{"session by token hash", "SELECT doc FROM enr_sessions WHERE hash = $1", sessionHash(4242)},
	{"identity by national number", "SELECT doc FROM enr_identities WHERE national_id = $1", fmt.Sprintf("%010d", 4242)},
	{"identity by generation ID (sign-in)", "SELECT i.doc FROM enr_identity_ids d JOIN enr_identities i ON i.national_id = d.national_id WHERE d.id = $1", "gen-4242"},
}

func explain(tb testing.TB, dsn string, analyze bool) map[string]string {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	out := map[string]string{}
	for _, q := range hotQueries {
		opts := "COSTS OFF"
		if analyze {
			opts = "ANALYZE, BUFFERS, COSTS OFF"
		}
		rows, err := conn.Query(ctx, "EXPLAIN ("+opts+") "+q.sql, q.arg)
		if err != nil {
			tb.Fatalf("explain %s: %v", q.name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			tb.Fatalf("explain %s: %v", q.name, err)
		}
		out[q.name] = strings.Join(lines, "\n")
	}
	return out
}

// TestPostgresHotQueriesUseIndexes loads 20 thousand identities and checks
// that no hot query scans a whole table.
func TestPostgresHotQueriesUseIndexes(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := store.OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fillScale(t, dsn, 20000)
	for name, plan := range explain(t, dsn, false) {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "Index") {
				t.Fatalf("plan without an index:\n%s", plan)
			}
		})
	}
}

// BenchmarkPostgresLookup measures the hot lookups through the store's API
// with 10 thousand and 1 million identities loaded (and 3.5 million when
// THIQA_BENCH_NATION=1), and logs EXPLAIN ANALYZE of each hot query.
func BenchmarkPostgresLookup(b *testing.B) {
	sizes := []int{10_000, 1_000_000}
	if os.Getenv("THIQA_BENCH_NATION") == "1" {
		sizes = append(sizes, 3_500_000)
	}
	ctx := context.Background()
	for _, n := range sizes {
		b.Run(fmt.Sprintf("identities=%d", n), func(b *testing.B) {
			dsn := pgtest.DSN(b)
			s, err := store.OpenPostgres(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			fillScale(b, dsn, n)
			for name, plan := range explain(b, dsn, true) {
				b.Logf("%s, %d identities:\n%s", name, n, plan)
			}
			b.Run("identity", func(b *testing.B) {
				i := 0
				for b.Loop() {
					i = i%n + 1
					err := s.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
						_, err := tx.Identity(fmt.Sprintf("%010d", i))
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("session", func(b *testing.B) {
				i := 0
				for b.Loop() {
					i = i%n + 1
					err := s.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
						_, err := tx.Session(sessionHash(i))
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("ocsp-certificate", func(b *testing.B) {
				i := 1
				for b.Loop() {
					i = i%(2*n) + 2
					if _, err := s.Certificate(ctx, fmt.Sprintf("%032x", i)); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
