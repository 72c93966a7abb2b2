package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SigningView implements the same method of [Bolt], in a read-only
// snapshot.
func (s *Postgres) SigningView(ctx context.Context, fn func(SigningTx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return fn(&pgSigningTx{pgEnrollTx{ctx: ctx, tx: recTx{Tx: tx, conflict: new(bool)}}})
	})
}

// SigningUpdate implements the same method of [Bolt]: a serializable
// transaction, run again when it conflicted with another replica's (so a
// request is approved once when two replicas race).
func (s *Postgres) SigningUpdate(ctx context.Context, fn func(SigningTx) error) error {
	return s.serializable(ctx, func(tx recTx) error {
		return fn(&pgSigningTx{pgEnrollTx{ctx: ctx, tx: tx}})
	})
}

// pgSigningTx reuses the enrollment transaction's helpers; its errors,
// like bbolt's, are the bare sentinels.
type pgSigningTx struct{ pgEnrollTx }

func bare(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return ErrNotFound
	case errors.Is(err, ErrDuplicate):
		return ErrDuplicate
	}
	return err
}

func (t *pgSigningTx) Agency(id string) (Agency, error) {
	var a Agency
	return a, bare(t.getDoc("agency", &a, "SELECT doc FROM sig_agencies WHERE id = $1", id))
}

func (t *pgSigningTx) AgencyByName(name string) (Agency, error) {
	var a Agency
	return a, bare(t.getDoc("agency", &a, "SELECT doc FROM sig_agencies WHERE name = $1", name))
}

func (t *pgSigningTx) InsertAgency(a Agency) error {
	if a.ID == "" || a.Name == "" {
		return fmt.Errorf("insert agency: id and name are required")
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("insert agency: %w", err)
	}
	return bare(t.insertDoc("agency", "INSERT INTO sig_agencies (id, name, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", a.ID, a.Name, raw))
}

func (t *pgSigningTx) PutAgency(a Agency) error {
	old, err := t.Agency(a.ID)
	if err != nil {
		return err
	}
	if old.Name != a.Name {
		return fmt.Errorf("put agency: the name cannot change")
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("put agency: %w", err)
	}
	_, err = t.tx.Exec(t.ctx, "UPDATE sig_agencies SET doc = $2 WHERE id = $1", a.ID, raw)
	return err
}

func (t *pgSigningTx) Agencies() ([]Agency, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT doc FROM sig_agencies ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("agencies: %w", err)
	}
	return collectDocs[Agency](rows)
}

func (t *pgSigningTx) SignRequest(id string) (SignRequest, error) {
	var r SignRequest
	return r, bare(t.getDoc("sign request", &r, "SELECT doc FROM sig_requests WHERE id = $1", id))
}

func (t *pgSigningTx) PutSignRequest(r SignRequest) (SignRequest, error) {
	if r.ID == "" || r.NationalID == "" {
		return r, fmt.Errorf("put sign request: id and national id are required")
	}
	old, err := t.SignRequest(r.ID)
	switch {
	case errors.Is(err, ErrNotFound) && r.Version != 0, err == nil && old.Version != r.Version:
		return r, ErrConflict
	case err == nil && (old.NationalID != r.NationalID || !old.Created.Equal(r.Created)):
		return r, fmt.Errorf("put sign request: citizen and creation time cannot change")
	case err != nil && !errors.Is(err, ErrNotFound):
		return r, err
	}
	prev := r.Version
	r.Version++
	raw, err := json.Marshal(r)
	if err != nil {
		return r, fmt.Errorf("put sign request: %w", err)
	}
	created := r.Created.UTC().Format("20060102T150405.000000000")
	var n int64
	if prev == 0 {
		tag, err := t.tx.Exec(t.ctx, `INSERT INTO sig_requests (id, national_id, created_key, version, doc)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, r.ID, r.NationalID, created, int64(r.Version), raw)
		if err != nil {
			return r, fmt.Errorf("put sign request: %w", err)
		}
		n = tag.RowsAffected()
	} else {
		tag, err := t.tx.Exec(t.ctx, "UPDATE sig_requests SET version = $2, doc = $3 WHERE id = $1 AND version = $4",
			r.ID, int64(r.Version), raw, int64(prev))
		if err != nil {
			return r, fmt.Errorf("put sign request: %w", err)
		}
		n = tag.RowsAffected()
	}
	if n == 0 {
		r.Version = prev
		return r, ErrConflict
	}
	return r, nil
}

func (t *pgSigningTx) SignRequestsOf(nationalID string) ([]SignRequest, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT doc FROM sig_requests WHERE national_id = $1 ORDER BY created_key, id LIMIT $2", nationalID, maxListed)
	if err != nil {
		return nil, fmt.Errorf("sign requests: %w", err)
	}
	return collectDocs[SignRequest](rows)
}

func (t *pgSigningTx) Idempotency(owner, key string) (string, error) {
	var id string
	err := t.tx.QueryRow(t.ctx, "SELECT request_id FROM sig_idempotency WHERE owner = $1 AND key = $2", owner, key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	return id, err
}

func (t *pgSigningTx) PutIdempotency(owner, key, requestID string) error {
	return bare(t.insertDoc("idempotency key", "INSERT INTO sig_idempotency (owner, key, request_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", owner, key, requestID))
}

func (t *pgSigningTx) NextBlobSequence() (uint64, error) {
	var n int64
	err := t.tx.QueryRow(t.ctx, "SELECT nextval('sig_blob_seq')").Scan(&n)
	return uint64(n), err
}

func (t *pgSigningTx) BlobKeys(prefix string, max int) ([]string, error) {
	if max <= 0 {
		return nil, nil
	}
	rows, err := t.tx.Query(t.ctx, "SELECT key FROM sig_blobs WHERE key >= $1 AND starts_with(key, $1) ORDER BY key LIMIT $2", prefix, max)
	if err != nil {
		return nil, fmt.Errorf("blob keys: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (t *pgSigningTx) PutBlob(key string, b []byte) error {
	if b == nil {
		b = []byte{}
	}
	_, err := t.tx.Exec(t.ctx, `INSERT INTO sig_blobs (key, data) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET data = excluded.data`, key, b)
	return err
}

func (t *pgSigningTx) Blob(key string) ([]byte, error) {
	var b []byte
	err := t.tx.QueryRow(t.ctx, "SELECT data FROM sig_blobs WHERE key = $1", key).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return b, err
}

func (t *pgSigningTx) PutEvidence(e SignEvidence) error {
	if e.ID == "" || e.RequestID == "" {
		return fmt.Errorf("put evidence: id and request id are required")
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("put evidence: %w", err)
	}
	if err := t.insertDoc("evidence", "INSERT INTO sig_evidence (request_id, id, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", e.RequestID, e.ID, raw); err != nil {
		return bare(err)
	}
	if _, err := t.tx.Exec(t.ctx, "INSERT INTO sig_audit_pending (request_id, id, at) VALUES ($1, $2, $3)", e.RequestID, e.ID, e.At); err != nil {
		return fmt.Errorf("put evidence: pending audit: %w", err)
	}
	return nil
}

func (t *pgSigningTx) EvidenceOf(requestID string) ([]SignEvidence, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT doc FROM sig_evidence WHERE request_id = $1 ORDER BY id", requestID)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	return collectDocs[SignEvidence](rows)
}

var _ SigningTx = (*pgSigningTx)(nil)
