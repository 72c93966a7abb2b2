package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketOIDCClients = []byte("oidc_clients") // client ID -> JSON OIDCClient
	bucketOIDCMeta    = []byte("oidc_meta")    // "secret" -> 32 random bytes
)

// PutOIDCClient registers a relying party; it fails when the ID is
// taken.
func (b *Bolt) PutOIDCClient(ctx context.Context, c OIDCClient) error {
	v, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("put oidc client: %w", err)
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketOIDCClients)
		if err != nil {
			return fmt.Errorf("put oidc client: %w", err)
		}
		if bk.Get([]byte(c.ID)) != nil {
			return fmt.Errorf("put oidc client %s: already registered", c.ID)
		}
		return bk.Put([]byte(c.ID), v)
	})
}

// OIDCClient returns the relying party id, or ErrOIDCClientNotFound.
func (b *Bolt) OIDCClient(ctx context.Context, id string) (OIDCClient, error) {
	var c OIDCClient
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketOIDCClients)
		if bk == nil {
			return ErrOIDCClientNotFound
		}
		v := bk.Get([]byte(id))
		if v == nil {
			return ErrOIDCClientNotFound
		}
		return json.Unmarshal(v, &c)
	})
	if err != nil {
		return OIDCClient{}, fmt.Errorf("oidc client: %w", err)
	}
	return c, nil
}

// OIDCSecret returns the deployment's 32-byte OpenID provider secret
// (pairwise subjects, token encryption), creating it on first use.
func (b *Bolt) OIDCSecret(ctx context.Context) ([]byte, error) {
	var out []byte
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketOIDCMeta)
		if err != nil {
			return err
		}
		if v := bk.Get([]byte("secret")); len(v) == 32 {
			out = append([]byte(nil), v...)
			return nil
		}
		out = make([]byte, 32)
		if _, err := rand.Read(out); err != nil {
			return err
		}
		return bk.Put([]byte("secret"), out)
	})
	if err != nil {
		return nil, fmt.Errorf("oidc secret: %w", err)
	}
	return out, nil
}
