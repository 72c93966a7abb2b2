package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// RequestsView implements the same method of [Bolt], in a read-only
// snapshot.
func (s *Postgres) RequestsView(ctx context.Context, fn func(RequestsTx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return fn(&pgRequestsTx{pgEnrollTx{ctx: ctx, tx: recTx{Tx: tx, conflict: new(bool)}}})
	})
}

// RequestsUpdate implements the same method of [Bolt]: a serializable
// transaction, run again when it conflicted with another replica's (so
// that of two agency officers accepting a request at once, one wins).
func (s *Postgres) RequestsUpdate(ctx context.Context, fn func(RequestsTx) error) error {
	return s.serializable(ctx, func(tx recTx) error {
		return fn(&pgRequestsTx{pgEnrollTx{ctx: ctx, tx: tx}})
	})
}

type pgRequestsTx struct{ pgEnrollTx }

func (t *pgRequestsTx) ServiceRequest(id string) (ServiceRequest, error) {
	var r ServiceRequest
	return r, bare(t.getDoc("service request", &r, "SELECT doc FROM req_requests WHERE id = $1", id))
}

func (t *pgRequestsTx) PutServiceRequest(r ServiceRequest) (ServiceRequest, error) {
	old, err := t.ServiceRequest(r.ID)
	if err := checkServiceRequestPut(old, err, r); err != nil {
		return r, err
	}
	prev := r.Version
	r.Version++
	raw, err := json.Marshal(r)
	if err != nil {
		return r, fmt.Errorf("put service request: %w", err)
	}
	var sql string
	args := []any{r.ID, r.State, int64(r.Version), raw}
	if prev == 0 {
		sql = `INSERT INTO req_requests (id, state, version, doc, national_id, agency, queue_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`
		args = append(args, r.NationalID, r.Agency, r.QueueKey())
	} else {
		sql = "UPDATE req_requests SET state = $2, version = $3, doc = $4 WHERE id = $1 AND version = $5"
		args = append(args, int64(prev))
	}
	tag, err := t.tx.Exec(t.ctx, sql, args...)
	if err != nil {
		return r, fmt.Errorf("put service request: %w", err)
	}
	if tag.RowsAffected() == 0 {
		r.Version = prev
		return r, ErrConflict
	}
	return r, nil
}

func (t *pgRequestsTx) ServiceRequestsOf(nationalID string) ([]ServiceRequest, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT doc FROM req_requests WHERE national_id = $1 ORDER BY queue_key DESC LIMIT $2", nationalID, maxListed)
	if err != nil {
		return nil, fmt.Errorf("service requests: %w", err)
	}
	out, err := collectDocs[ServiceRequest](rows)
	slices.Reverse(out)
	return out, err
}

func (t *pgRequestsTx) AgencyQueue(agency, state string, p Page) ([]ServiceRequest, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT doc FROM req_requests WHERE agency = $1 AND state = $2 AND queue_key > $3
		ORDER BY queue_key LIMIT $4`, agency, state, p.After, p.limit())
	if err != nil {
		return nil, fmt.Errorf("agency queue: %w", err)
	}
	return collectDocs[ServiceRequest](rows)
}

func (t *pgRequestsTx) PutRequestBlob(key string, b []byte) error {
	if key == "" {
		return fmt.Errorf("put request blob: key is required")
	}
	if b == nil {
		b = []byte{}
	}
	return bare(t.insertDoc("request blob", "INSERT INTO req_blobs (key, data) VALUES ($1, $2) ON CONFLICT DO NOTHING", key, b))
}

func (t *pgRequestsTx) RequestBlob(key string) ([]byte, error) {
	var b []byte
	err := t.tx.QueryRow(t.ctx, "SELECT data FROM req_blobs WHERE key = $1", key).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return b, err
}

var _ RequestsTx = (*pgRequestsTx)(nil)
