package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// PutOIDCClient implements the same method of [Bolt].
func (s *Postgres) PutOIDCClient(ctx context.Context, c OIDCClient) error {
	v, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("put oidc client: %w", err)
	}
	tag, err := s.pool.Exec(ctx, "INSERT INTO oidc_clients (id, doc) VALUES ($1, $2) ON CONFLICT DO NOTHING", c.ID, v)
	if err != nil {
		return fmt.Errorf("put oidc client: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("put oidc client %s: already registered", c.ID)
	}
	return nil
}

// OIDCClient implements the same method of [Bolt].
func (s *Postgres) OIDCClient(ctx context.Context, id string) (OIDCClient, error) {
	var c OIDCClient
	var raw []byte
	err := s.pool.QueryRow(ctx, "SELECT doc FROM oidc_clients WHERE id = $1", id).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrOIDCClientNotFound
	}
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil {
		return OIDCClient{}, fmt.Errorf("oidc client: %w", err)
	}
	return c, nil
}

// OIDCSecret implements the same method of [Bolt]: the first replica to
// ask creates the secret, every replica reads the same one.
func (s *Postgres) OIDCSecret(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("oidc secret: %w", err)
	}
	var out []byte
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO oidc_meta (id, secret) VALUES (1, $1) ON CONFLICT DO NOTHING", fresh); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT secret FROM oidc_meta WHERE id = 1").Scan(&out)
	})
	if err != nil {
		return nil, fmt.Errorf("oidc secret: %w", err)
	}
	return out, nil
}
