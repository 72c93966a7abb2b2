package store

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is the distributed store: every Thiqa replica of a deployment
// shares one PostgreSQL database. Its methods behave as [Bolt]'s (the
// storetest contract runs on both).
type Postgres struct {
	pool *pgxpool.Pool
}

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock that serialises migrations when
// several replicas start at once.
const migrationLock = 0x54686971 // "Thiq"

// OpenPostgres connects to the database at dsn (a postgres:// URL) and
// applies the embedded schema migrations that it lacks.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL store: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open PostgreSQL store: %w", err)
	}
	return &Postgres{pool: pool}, nil
}

// Close closes the connection pool.
func (s *Postgres) Close() error { s.pool.Close(); return nil }

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&have); err != nil {
			return err
		}
		for _, f := range files {
			v, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(f, "migrations/"), "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migration %s: bad name", f)
			}
			if v <= have {
				continue
			}
			sql, err := migrations.ReadFile(f)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return fmt.Errorf("migration %s: %w", f, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", v); err != nil {
				return err
			}
		}
		return nil
	})
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

const certColumns = "serial, issuer, profile, subject, not_before, not_after, issued_at, der, status, revoked_at, reason, version"

func scanCertificate(row pgx.Row) (Certificate, error) {
	var c Certificate
	var revokedAt *time.Time
	err := row.Scan(&c.Serial, &c.Issuer, &c.Profile, &c.Subject, &c.NotBefore, &c.NotAfter, &c.IssuedAt, &c.DER, &c.Status, &revokedAt, &c.Reason, &c.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNotFound
	}
	c.NotBefore, c.NotAfter, c.IssuedAt = c.NotBefore.UTC(), c.NotAfter.UTC(), c.IssuedAt.UTC()
	if revokedAt != nil {
		c.RevokedAt = revokedAt.UTC()
	}
	return c, err
}

// InsertCertificate implements the same method of [Bolt].
func (s *Postgres) InsertCertificate(ctx context.Context, c Certificate) error {
	if c.Serial == "" || c.Issuer == "" {
		return fmt.Errorf("insert certificate: serial and issuer are required")
	}
	if c.Status == "" {
		c.Status = StatusValid
	}
	const insert = "INSERT INTO certificates (" + certColumns + ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,1)"
	args := []any{c.Serial, c.Issuer, c.Profile, c.Subject, c.NotBefore, c.NotAfter, c.IssuedAt, c.DER, c.Status, nullTime(c.RevokedAt), c.Reason}
	var err error
	if c.AuditPending == nil {
		_, err = s.pool.Exec(ctx, insert, args...)
	} else {
		c.Version = 1
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, insert, args...); err != nil {
				return err
			}
			return insertCertAudit(ctx, tx, &c)
		})
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("insert certificate %s: %w", c.Serial, ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("insert certificate %s: %w", c.Serial, err)
	}
	return nil
}

// Certificate implements the same method of [Bolt].
func (s *Postgres) Certificate(ctx context.Context, serial string) (Certificate, error) {
	c, err := scanCertificate(s.pool.QueryRow(ctx, "SELECT "+certColumns+" FROM certificates WHERE serial = $1", serial))
	if err != nil {
		return Certificate{}, fmt.Errorf("certificate %s: %w", serial, err)
	}
	return c, nil
}

// Certificates implements the same method of [Bolt].
func (s *Postgres) Certificates(ctx context.Context, issuer string, p Page) ([]Certificate, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+certColumns+` FROM certificates
		WHERE serial > $1 AND ($2 = '' OR issuer = $2) ORDER BY serial LIMIT $3`, p.After, issuer, p.limit())
	if err != nil {
		return nil, fmt.Errorf("list certificates: %w", err)
	}
	return collectCertificates(rows)
}

func collectCertificates(rows pgx.Rows) ([]Certificate, error) {
	defer rows.Close()
	var out []Certificate
	for rows.Next() {
		c, err := scanCertificate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// UpdateCertificate implements the same method of [Bolt]: the row is
// locked for the transaction, so concurrent updates from several replicas
// apply one after the other.
func (s *Postgres) UpdateCertificate(ctx context.Context, serial string, fn func(*Certificate) error) (Certificate, error) {
	var c Certificate
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		c, err = scanCertificate(tx.QueryRow(ctx, "SELECT "+certColumns+" FROM certificates WHERE serial = $1 FOR UPDATE", serial))
		if err != nil {
			return err
		}
		before := c
		if err := fn(&c); err != nil {
			return err
		}
		if c.Serial != before.Serial || c.Issuer != before.Issuer {
			return fmt.Errorf("serial and issuer cannot change")
		}
		c.Version = before.Version + 1
		_, err = tx.Exec(ctx, `UPDATE certificates SET profile=$2, subject=$3, status=$4, revoked_at=$5, reason=$6, version=$7,
			change_seq=nextval('certificate_changes') WHERE serial=$1`,
			serial, c.Profile, c.Subject, c.Status, nullTime(c.RevokedAt), c.Reason, c.Version)
		if err != nil {
			return err
		}
		return insertCertAudit(ctx, tx, &c)
	})
	if err != nil {
		return Certificate{}, fmt.Errorf("update certificate %s: %w", serial, err)
	}
	return c, nil
}

// RevokedCertificates implements the same method of [Bolt], through a
// partial index on the certificates that are not valid.
func (s *Postgres) RevokedCertificates(ctx context.Context, issuer string) ([]Certificate, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+certColumns+" FROM certificates WHERE issuer = $1 AND status <> 'valid' ORDER BY serial", issuer)
	if err != nil {
		return nil, fmt.Errorf("revoked certificates of %s: %w", issuer, err)
	}
	return collectCertificates(rows)
}

// changeWindow is how far behind its last position a reader of the change
// feed looks again. Sequence values are drawn when a transaction writes but
// become visible when it commits, so a slow transaction can commit a value
// below one already read; rereading a window catches it (changes are
// idempotent invalidations).
const changeWindow = 1024

// CertificateChanges implements the same method of [Bolt].
func (s *Postgres) CertificateChanges(ctx context.Context, after uint64) ([]string, uint64, error) {
	from := int64(after) - changeWindow
	rows, err := s.pool.Query(ctx, "SELECT serial, change_seq FROM certificates WHERE change_seq > $1 ORDER BY change_seq LIMIT 1000", from)
	if err != nil {
		return nil, after, fmt.Errorf("certificate changes: %w", err)
	}
	defer rows.Close()
	var out []string
	next := after
	for rows.Next() {
		var serial string
		var seq int64
		if err := rows.Scan(&serial, &seq); err != nil {
			return nil, after, err
		}
		out = append(out, serial)
		if uint64(seq) > next {
			next = uint64(seq)
		}
	}
	return out, next, rows.Err()
}

// SaveCeremony implements the same method of [Bolt].
func (s *Postgres) SaveCeremony(ctx context.Context, c Ceremony) error {
	auths, err := json.Marshal(c.Authorities)
	if err != nil {
		return fmt.Errorf("save ceremony: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO ceremony (id, config, authorities, created_at) VALUES (1, $1, $2, $3)", c.Config, auths, c.CreatedAt); err != nil {
			return err
		}
		return insertPendingAudit(ctx, tx, c.AuditPending)
	})
	if isUniqueViolation(err) {
		return fmt.Errorf("save ceremony: %w", ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("save ceremony: %w", err)
	}
	return nil
}

// Ceremony implements the same method of [Bolt].
func (s *Postgres) Ceremony(ctx context.Context) (Ceremony, error) {
	var c Ceremony
	var auths []byte
	err := s.pool.QueryRow(ctx, "SELECT config, authorities, created_at FROM ceremony WHERE id = 1").Scan(&c.Config, &auths, &c.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Ceremony{}, fmt.Errorf("ceremony: %w", ErrNotFound)
	}
	if err != nil {
		return Ceremony{}, fmt.Errorf("ceremony: %w", err)
	}
	c.CreatedAt = c.CreatedAt.UTC()
	if err := json.Unmarshal(auths, &c.Authorities); err != nil {
		return Ceremony{}, fmt.Errorf("ceremony: %w", err)
	}
	return c, nil
}

// IssueCRL implements the same method of [Bolt]: the issuer's row is
// locked while the CRL is built, so numbers strictly increase across
// replicas.
func (s *Postgres) IssueCRL(ctx context.Context, issuer string, build func(number int64) (CRL, error)) (CRL, error) {
	var crl CRL
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO crls (issuer, number, der) VALUES ($1, 0, '') ON CONFLICT DO NOTHING", issuer); err != nil {
			return err
		}
		var last int64
		if err := tx.QueryRow(ctx, "SELECT number FROM crls WHERE issuer = $1 FOR UPDATE", issuer).Scan(&last); err != nil {
			return err
		}
		var err error
		crl, err = build(last + 1)
		if err != nil {
			return err
		}
		crl.Issuer, crl.Number = issuer, last+1
		_, err = tx.Exec(ctx, "UPDATE crls SET number=$2, this_update=$3, next_update=$4, der=$5 WHERE issuer=$1",
			issuer, crl.Number, crl.ThisUpdate, crl.NextUpdate, crl.DER)
		return err
	})
	if err != nil {
		return CRL{}, fmt.Errorf("issue CRL for %s: %w", issuer, err)
	}
	return crl, nil
}

// LatestCRL implements the same method of [Bolt].
func (s *Postgres) LatestCRL(ctx context.Context, issuer string) (CRL, error) {
	crl := CRL{Issuer: issuer}
	var thisUpdate, nextUpdate *time.Time
	err := s.pool.QueryRow(ctx, "SELECT number, this_update, next_update, der FROM crls WHERE issuer = $1 AND number > 0", issuer).
		Scan(&crl.Number, &thisUpdate, &nextUpdate, &crl.DER)
	if errors.Is(err, pgx.ErrNoRows) {
		return CRL{}, fmt.Errorf("latest CRL of %s: %w", issuer, ErrNotFound)
	}
	if err != nil {
		return CRL{}, fmt.Errorf("latest CRL of %s: %w", issuer, err)
	}
	if thisUpdate != nil {
		crl.ThisUpdate = thisUpdate.UTC()
	}
	if nextUpdate != nil {
		crl.NextUpdate = nextUpdate.UTC()
	}
	return crl, nil
}
