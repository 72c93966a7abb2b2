package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/thiqa/thiqa/store"
)

// State is where the provider keeps its flow state — authorization
// requests, codes, access and refresh tokens, single sign-on sessions,
// sign-ins at agencies, client assertions seen — so that every replica of
// a deployment sees the same (*store.Bolt, *store.Postgres). Secrets are
// keyed by their SHA-256, never stored in clear.
type State interface {
	// InsertOIDC fails with store.ErrDuplicate when a live entry has the
	// kind and key.
	InsertOIDC(ctx context.Context, e store.OIDCEntry, now time.Time) error
	PutOIDC(ctx context.Context, e store.OIDCEntry) error
	// OIDC returns a live entry or store.ErrNotFound.
	OIDC(ctx context.Context, kind store.OIDCKind, key string, now time.Time) (store.OIDCEntry, error)
	// UpdateOIDC changes a live entry atomically (one update at a time,
	// across replicas).
	UpdateOIDC(ctx context.Context, kind store.OIDCKind, key string, now time.Time, fn func(*store.OIDCEntry) error) (store.OIDCEntry, error)
	DeleteOIDC(ctx context.Context, kind store.OIDCKind, key string) error
	DeleteOIDCByIdentity(ctx context.Context, identity string) ([]store.OIDCEntry, error)
	DeleteOIDCByGrant(ctx context.Context, grant string) ([]store.OIDCEntry, error)
	PurgeOIDC(ctx context.Context, now time.Time, limit int) (int, error)
}

var (
	_ State = (*store.Bolt)(nil)
	_ State = (*store.Postgres)(nil)
)

// hashKey is the key of a secret in the state: its SHA-256 in hex.
func hashKey(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// purgeEvery and purgeBatch: every purgeEvery-th authorization request
// also deletes up to purgeBatch expired entries.
const (
	purgeEvery = 64
	purgeBatch = 500
)

// maybePurge deletes some expired entries now and then.
func (s *storage) maybePurge(ctx context.Context, now time.Time) {
	if s.created.Add(1)%purgeEvery == 0 {
		s.st.PurgeOIDC(ctx, now, purgeBatch)
	}
}

// Purge deletes up to limit expired entries of the provider's state.
func (p *Provider) Purge(ctx context.Context, limit int) (int, error) {
	return p.st.st.PurgeOIDC(ctx, p.now(), limit)
}

// entry encodes v as the document of a new entry.
func entry(kind store.OIDCKind, key string, v any, expires time.Time) (store.OIDCEntry, error) {
	doc, err := json.Marshal(v)
	if err != nil {
		return store.OIDCEntry{}, fmt.Errorf("encode oidc %s: %w", kind, err)
	}
	return store.OIDCEntry{Kind: kind, Key: key, Doc: doc, Expires: expires}, nil
}

// load reads the live entry of kind and key into v.
func (s *storage) load(ctx context.Context, kind store.OIDCKind, key string, v any) (store.OIDCEntry, error) {
	e, err := s.st.OIDC(ctx, kind, key, s.p.now())
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(e.Doc, v); err != nil {
		return e, fmt.Errorf("decode oidc %s: %w", kind, err)
	}
	return e, nil
}

// update changes the live entry of kind and key, decoded into a fresh T,
// with fn, and returns it as fn left it.
func update[T any](ctx context.Context, s *storage, kind store.OIDCKind, key string, fn func(e *store.OIDCEntry, v *T) error) (T, store.OIDCEntry, error) {
	var v T
	e, err := s.st.UpdateOIDC(ctx, kind, key, s.p.now(), func(e *store.OIDCEntry) error {
		v = *new(T)
		if err := json.Unmarshal(e.Doc, &v); err != nil {
			return fmt.Errorf("decode oidc %s: %w", kind, err)
		}
		if err := fn(e, &v); err != nil {
			return err
		}
		doc, err := json.Marshal(v)
		e.Doc = doc
		return err
	})
	return v, e, err
}

// notFound reports whether err means the entry is missing or expired.
func notFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
