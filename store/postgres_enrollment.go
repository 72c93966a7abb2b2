package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// maxTxAttempts bounds how often a serializable transaction is retried
// after PostgreSQL aborted it for a conflict with a concurrent one.
const maxTxAttempts = 20

// isRetryable reports a serialization failure or a deadlock: the
// transaction did nothing and may run again.
func isRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// recTx is a transaction that remembers whether a statement failed for a
// conflict with another transaction. The services may turn a store error
// into one of their own (a failed read becomes "not allowed in this
// state"), and PostgreSQL has aborted the transaction anyway: it must run
// again whatever fn returned.
type recTx struct {
	pgx.Tx
	conflict *bool
}

func (t recTx) note(err error) error {
	if isRetryable(err) {
		*t.conflict = true
	}
	return err
}

func (t recTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := t.Tx.Exec(ctx, sql, args...)
	return tag, t.note(err)
}

func (t recTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return recRow{t.Tx.QueryRow(ctx, sql, args...), t}
}

func (t recTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := t.Tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, t.note(err)
	}
	return recRows{rows, t}, nil
}

type recRow struct {
	pgx.Row
	t recTx
}

func (r recRow) Scan(dest ...any) error { return r.t.note(r.Row.Scan(dest...)) }

type recRows struct {
	pgx.Rows
	t recTx
}

func (r recRows) Err() error { return r.t.note(r.Rows.Err()) }

// serializable runs fn in a SERIALIZABLE transaction, again when
// PostgreSQL aborts it for a conflict, so that concurrent transactions
// from every replica behave as if run one after the other (as bbolt's
// single writer does).
func (s *Postgres) serializable(ctx context.Context, fn func(recTx) error) error {
	var err error
	for attempt := range maxTxAttempts {
		conflict := false
		err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(tx pgx.Tx) error {
			return fn(recTx{Tx: tx, conflict: &conflict})
		})
		if err == nil || !(conflict || isRetryable(err)) {
			return err
		}
		// Back off a little more each time; the conflicting transaction
		// is short.
		t := time.NewTimer(time.Duration(attempt+1) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return fmt.Errorf("%d attempts: %w", maxTxAttempts, err)
}

// EnrollmentView implements the same method of [Bolt], in a read-only
// snapshot.
func (s *Postgres) EnrollmentView(ctx context.Context, fn func(EnrollmentTx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return fn(&pgEnrollTx{ctx: ctx, tx: recTx{Tx: tx, conflict: new(bool)}})
	})
}

// EnrollmentUpdate implements the same method of [Bolt]: fn runs in a
// serializable transaction, again when it conflicted with another
// replica's, and is committed (durably, with the server's synchronous
// commit) before it returns.
func (s *Postgres) EnrollmentUpdate(ctx context.Context, fn func(EnrollmentTx) error) error {
	return s.serializable(ctx, func(tx recTx) error {
		return fn(&pgEnrollTx{ctx: ctx, tx: tx})
	})
}

type pgEnrollTx struct {
	ctx context.Context
	tx  recTx
}

// getDoc reads one jsonb document into v; ErrNotFound when there is none.
func (t *pgEnrollTx) getDoc(what string, v any, sql string, args ...any) error {
	var raw []byte
	err := t.tx.QueryRow(t.ctx, sql, args...).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// insertDoc runs an INSERT … ON CONFLICT DO NOTHING: ErrDuplicate when
// the key is taken (without aborting the transaction).
func (t *pgEnrollTx) insertDoc(what, sql string, args ...any) error {
	tag, err := t.tx.Exec(t.ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("insert %s: %w", what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("insert %s: %w", what, ErrDuplicate)
	}
	return nil
}

func collectDocs[T any](rows pgx.Rows) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (t *pgEnrollTx) Centre(code string) (Centre, error) {
	var c Centre
	return c, t.getDoc("centre "+code, &c, "SELECT doc FROM enr_centres WHERE code = $1", code)
}

func (t *pgEnrollTx) Centres() ([]Centre, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT doc FROM enr_centres ORDER BY code")
	if err != nil {
		return nil, fmt.Errorf("centres: %w", err)
	}
	out, err := collectDocs[Centre](rows)
	if err != nil {
		return nil, fmt.Errorf("centres: %w", err)
	}
	return out, nil
}

func (t *pgEnrollTx) InsertCentre(c Centre) error {
	if c.Code == "" {
		return errors.New("insert centre: code is required")
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("insert centre: %w", err)
	}
	return t.insertDoc("centre "+c.Code, "INSERT INTO enr_centres (code, doc) VALUES ($1, $2) ON CONFLICT DO NOTHING", c.Code, raw)
}

func (t *pgEnrollTx) Officer(username string) (Officer, error) {
	var o Officer
	return o, t.getDoc("officer "+username, &o, "SELECT doc FROM enr_officers WHERE username = $1", username)
}

func (t *pgEnrollTx) InsertOfficer(o Officer) error {
	if o.Username == "" {
		return errors.New("insert officer: username is required")
	}
	raw, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("insert officer: %w", err)
	}
	return t.insertDoc("officer "+o.Username, "INSERT INTO enr_officers (username, doc) VALUES ($1, $2) ON CONFLICT DO NOTHING", o.Username, raw)
}

func (t *pgEnrollTx) Officers(after string, max int) ([]Officer, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT doc FROM enr_officers WHERE username > $1 ORDER BY username LIMIT $2", after, max)
	if err != nil {
		return nil, fmt.Errorf("officers: %w", err)
	}
	return collectDocs[Officer](rows)
}

func (t *pgEnrollTx) PutOfficer(o Officer) error {
	raw, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("put officer %s: %w", o.Username, err)
	}
	tag, err := t.tx.Exec(t.ctx, "UPDATE enr_officers SET doc = $2 WHERE username = $1", o.Username, raw)
	if err != nil {
		return fmt.Errorf("put officer %s: %w", o.Username, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("put officer %s: %w", o.Username, ErrNotFound)
	}
	return nil
}

func (t *pgEnrollTx) AppendEnrollment(r EnrollmentRecord) (EnrollmentRecord, error) {
	if r.NationalID == "" {
		return r, errors.New("append enrollment: national id is required")
	}
	var seq int64
	if err := t.tx.QueryRow(t.ctx, "SELECT nextval('enr_record_seq')").Scan(&seq); err != nil {
		return r, fmt.Errorf("append enrollment: %w", err)
	}
	r.ID = fmt.Sprintf("enr-%08d", seq)
	raw, err := json.Marshal(r)
	if err != nil {
		return r, fmt.Errorf("append enrollment: %w", err)
	}
	if _, err := t.tx.Exec(t.ctx, "INSERT INTO enr_records (seq, id, national_id, doc) VALUES ($1, $2, $3, $4)", seq, r.ID, r.NationalID, raw); err != nil {
		return r, fmt.Errorf("append enrollment: %w", err)
	}
	return r, nil
}

func (t *pgEnrollTx) Enrollment(id string) (EnrollmentRecord, error) {
	var r EnrollmentRecord
	return r, t.getDoc("enrollment "+id, &r, "SELECT doc FROM enr_records WHERE id = $1", id)
}

func (t *pgEnrollTx) Enrollments(nationalID string) ([]EnrollmentRecord, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT doc FROM enr_records WHERE national_id = $1 ORDER BY seq", nationalID)
	if err != nil {
		return nil, fmt.Errorf("enrollments: %w", err)
	}
	out, err := collectDocs[EnrollmentRecord](rows)
	if err != nil {
		return nil, fmt.Errorf("enrollments: %w", err)
	}
	return out, nil
}

func (t *pgEnrollTx) Identity(nationalID string) (Identity, error) {
	var i Identity
	return i, t.getDoc("identity", &i, "SELECT doc FROM enr_identities WHERE national_id = $1", nationalID)
}

func (t *pgEnrollTx) IdentityByID(id string) (Identity, error) {
	var i Identity
	return i, t.getDoc("identity", &i, `SELECT i.doc FROM enr_identity_ids d
		JOIN enr_identities i ON i.national_id = d.national_id WHERE d.id = $1`, id)
}

func (t *pgEnrollTx) PutIdentity(i Identity) (Identity, error) {
	if i.NationalID == "" || i.ID == "" {
		return i, errors.New("put identity: national id and id are required")
	}
	var owner string
	switch err := t.tx.QueryRow(t.ctx, "SELECT national_id FROM enr_identity_ids WHERE id = $1", i.ID).Scan(&owner); {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return i, fmt.Errorf("put identity: %w", err)
	case owner != i.NationalID:
		return i, fmt.Errorf("put identity: id %s: %w", i.ID, ErrDuplicate)
	}
	old := i.Version
	i.Version++
	raw, err := json.Marshal(i)
	if err != nil {
		return i, fmt.Errorf("put identity: %w", err)
	}
	var tag pgconn.CommandTag
	if old == 0 {
		tag, err = t.tx.Exec(t.ctx, `INSERT INTO enr_identities (national_id, id, version, doc)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, i.NationalID, i.ID, i.Version, raw)
	} else {
		tag, err = t.tx.Exec(t.ctx, `UPDATE enr_identities SET id = $2, version = $3, doc = $4
			WHERE national_id = $1 AND version = $5`, i.NationalID, i.ID, i.Version, raw, old)
	}
	if err != nil {
		return i, fmt.Errorf("put identity: %w", err)
	}
	if tag.RowsAffected() == 0 {
		i.Version = old
		return i, fmt.Errorf("put identity: %w", ErrConflict)
	}
	if _, err := t.tx.Exec(t.ctx, "INSERT INTO enr_identity_ids (id, national_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", i.ID, i.NationalID); err != nil {
		return i, fmt.Errorf("put identity: %w", err)
	}
	return i, nil
}

func (t *pgEnrollTx) Session(hash []byte) (Session, error) {
	var s Session
	return s, t.getDoc("session", &s, "SELECT doc FROM enr_sessions WHERE hash = $1", hash)
}

func (t *pgEnrollTx) PutSession(s Session) error {
	if len(s.Hash) == 0 {
		return errors.New("put session: hash is required")
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("put session: %w", err)
	}
	_, err = t.tx.Exec(t.ctx, `INSERT INTO enr_sessions (hash, expires, doc) VALUES ($1, $2, $3)
		ON CONFLICT (hash) DO UPDATE SET expires = excluded.expires, doc = excluded.doc`, s.Hash, nullTime(s.Expires), raw)
	if err != nil {
		return fmt.Errorf("put session: %w", err)
	}
	return nil
}

func (t *pgEnrollTx) DeleteSession(hash []byte) error {
	if _, err := t.tx.Exec(t.ctx, "DELETE FROM enr_sessions WHERE hash = $1", hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

func (t *pgEnrollTx) Ceremony(id string) (WebAuthnCeremony, error) {
	var c WebAuthnCeremony
	return c, t.getDoc("ceremony", &c, "SELECT doc FROM enr_ceremonies WHERE id = $1", id)
}

func (t *pgEnrollTx) PutCeremony(c WebAuthnCeremony) error {
	if c.ID == "" {
		return errors.New("put ceremony: id is required")
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("put ceremony: %w", err)
	}
	return t.insertDoc("ceremony", "INSERT INTO enr_ceremonies (id, expires, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", c.ID, nullTime(c.Expires), raw)
}

func (t *pgEnrollTx) DeleteCeremony(id string) error {
	tag, err := t.tx.Exec(t.ctx, "DELETE FROM enr_ceremonies WHERE id = $1", id)
	if err != nil {
		return fmt.Errorf("delete ceremony: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete ceremony: %w", ErrNotFound)
	}
	return nil
}

// purgeLock is the advisory lock that one purge of expired sessions and
// ceremonies holds at a time.
const purgeLock = 0x54686972 // "Thir"

// PurgeExpired implements the same method of [Bolt]: it looks at up to
// max sessions and ceremonies whose keys follow from (wrapping around)
// and deletes the expired ones. Starting at a random key keeps concurrent
// sign-ins from reading the same index pages, which would make their
// serializable transactions conflict.
func (t *pgEnrollTx) PurgeExpired(from []byte, max int, now time.Time) (int, error) {
	if max <= 0 {
		return 0, nil
	}
	// One purge at a time: concurrent purges would read and delete the
	// same rows and make each other's transactions run again. A sign-in
	// that finds another purging skips its share; the next one does it.
	var mine bool
	if err := t.tx.QueryRow(t.ctx, "SELECT pg_try_advisory_xact_lock($1)", purgeLock).Scan(&mine); err != nil {
		return 0, fmt.Errorf("purge expired: %w", err)
	}
	if !mine {
		return 0, nil
	}
	// Ceremony IDs are text: a random key that is not UTF-8 starts
	// from its base64url form, in the IDs' alphabet.
	fromID := string(from)
	if !utf8.Valid(from) {
		fromID = base64.RawURLEncoding.EncodeToString(from)
	}
	n := 0
	for _, q := range []struct {
		table, key string
		from       any
	}{
		{"enr_sessions", "hash", from},
		{"enr_ceremonies", "id", fromID},
	} {
		// The keys from "from" on, then those before it, max in all.
		sql := fmt.Sprintf(`DELETE FROM %[1]s WHERE %[2]s IN (
			SELECT k FROM (
				(SELECT %[2]s AS k, expires, 0 AS part FROM %[1]s WHERE %[2]s >= $1 ORDER BY %[2]s LIMIT $2)
				UNION ALL
				(SELECT %[2]s, expires, 1 FROM %[1]s WHERE %[2]s < $1 ORDER BY %[2]s LIMIT $2)
				ORDER BY part, k LIMIT $2) c
			WHERE expires <= $3)`, q.table, q.key)
		tag, err := t.tx.Exec(t.ctx, sql, q.from, max, now)
		if err != nil {
			return n, fmt.Errorf("purge expired: %w", err)
		}
		n += int(tag.RowsAffected())
	}
	return n, nil
}

func (t *pgEnrollTx) Approval(id string) (Approval, error) {
	var a Approval
	return a, t.getDoc("approval "+id, &a, "SELECT doc FROM enr_approvals WHERE id = $1", id)
}

func (t *pgEnrollTx) PutApproval(a Approval) error {
	if a.ID == "" {
		return errors.New("put approval: id is required")
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("put approval: %w", err)
	}
	_, err = t.tx.Exec(t.ctx, `INSERT INTO enr_approvals (id, status, doc) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc`, a.ID, a.Status, raw)
	if err != nil {
		return fmt.Errorf("put approval: %w", err)
	}
	return nil
}

func (t *pgEnrollTx) Approvals(status string, max int) ([]Approval, error) {
	if max <= 0 {
		return nil, nil
	}
	rows, err := t.tx.Query(t.ctx, "SELECT doc FROM enr_approvals WHERE ($1 = '' OR status = $1) ORDER BY id LIMIT $2", status, max)
	if err != nil {
		return nil, fmt.Errorf("approvals: %w", err)
	}
	out, err := collectDocs[Approval](rows)
	if err != nil {
		return nil, fmt.Errorf("approvals: %w", err)
	}
	return out, nil
}

func (t *pgEnrollTx) AppendEvent(e Event) error {
	if e.Subject == "" || e.Action == "" {
		return errors.New("append event: subject and action are required")
	}
	var seq int64
	if err := t.tx.QueryRow(t.ctx, "SELECT nextval('enr_events_seq_seq')").Scan(&seq); err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	e.Seq = uint64(seq)
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	if _, err := t.tx.Exec(t.ctx, "INSERT INTO enr_events (seq, subject, doc) VALUES ($1, $2, $3)", seq, e.Subject, raw); err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	if e.AuditID != "" {
		if _, err := t.tx.Exec(t.ctx, "INSERT INTO enr_audit_pending (id, at, doc) VALUES ($1, $2, $3)", e.AuditID, e.At, raw); err != nil {
			return fmt.Errorf("append event: pending audit: %w", err)
		}
	}
	return nil
}

func (t *pgEnrollTx) Events(subject string) ([]Event, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT doc FROM enr_events WHERE subject = $1 ORDER BY seq", subject)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	out, err := collectDocs[Event](rows)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return out, nil
}

var _ EnrollmentTx = (*pgEnrollTx)(nil)
