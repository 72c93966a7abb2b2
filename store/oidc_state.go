package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The OpenID provider's flow state: entries by kind and key, and three
// indexes whose values are empty.
var (
	bucketOIDCState      = []byte("oidc_state")       // kind \0 key -> JSON OIDCEntry
	bucketOIDCByIdentity = []byte("oidc_by_identity") // identity \0 kind \0 key
	bucketOIDCByGrant    = []byte("oidc_by_grant")    // grant \0 kind \0 key
	bucketOIDCByExpiry   = []byte("oidc_by_expiry")   // expiry (8 bytes, big-endian Unix ns) kind \0 key
)

func oidcKey(kind OIDCKind, key string) []byte {
	return []byte(string(kind) + "\x00" + key)
}

func oidcExpiryKey(e OIDCEntry) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(e.Expires.UnixNano()))
	return append(k, oidcKey(e.Kind, e.Key)...)
}

// oidcTx is a write transaction over the OIDC buckets.
type oidcTx struct {
	state, byIdentity, byGrant, byExpiry *bolt.Bucket
}

func openOIDCTx(tx *bolt.Tx) (oidcTx, error) {
	var t oidcTx
	for _, p := range []struct {
		b    **bolt.Bucket
		name []byte
	}{{&t.state, bucketOIDCState}, {&t.byIdentity, bucketOIDCByIdentity}, {&t.byGrant, bucketOIDCByGrant}, {&t.byExpiry, bucketOIDCByExpiry}} {
		b, err := tx.CreateBucketIfNotExists(p.name)
		if err != nil {
			return t, err
		}
		*p.b = b
	}
	return t, nil
}

func (t oidcTx) get(kind OIDCKind, key string) (OIDCEntry, bool, error) {
	var e OIDCEntry
	v := t.state.Get(oidcKey(kind, key))
	if v == nil {
		return e, false, nil
	}
	err := json.Unmarshal(v, &e)
	return e, err == nil, err
}

func (t oidcTx) put(e OIDCEntry) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	k := oidcKey(e.Kind, e.Key)
	if err := t.state.Put(k, v); err != nil {
		return err
	}
	if e.Identity != "" {
		if err := t.byIdentity.Put(append([]byte(e.Identity+"\x00"), k...), nil); err != nil {
			return err
		}
	}
	if e.Grant != "" {
		if err := t.byGrant.Put(append([]byte(e.Grant+"\x00"), k...), nil); err != nil {
			return err
		}
	}
	return t.byExpiry.Put(oidcExpiryKey(e), nil)
}

func (t oidcTx) del(e OIDCEntry) error {
	k := oidcKey(e.Kind, e.Key)
	if e.Identity != "" {
		if err := t.byIdentity.Delete(append([]byte(e.Identity+"\x00"), k...)); err != nil {
			return err
		}
	}
	if e.Grant != "" {
		if err := t.byGrant.Delete(append([]byte(e.Grant+"\x00"), k...)); err != nil {
			return err
		}
	}
	if err := t.byExpiry.Delete(oidcExpiryKey(e)); err != nil {
		return err
	}
	return t.state.Delete(k)
}

// replace writes e over old (whose index entries it drops first).
func (t oidcTx) replace(old, e OIDCEntry, had bool) error {
	if had {
		if err := t.del(old); err != nil {
			return err
		}
	}
	return t.put(e)
}

// deleteIndexed deletes every entry an index lists under prefix.
func (t oidcTx) deleteIndexed(index *bolt.Bucket, prefix string) ([]OIDCEntry, error) {
	p := []byte(prefix + "\x00")
	var keys [][]byte
	c := index.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k[len(p):]))
	}
	var out []OIDCEntry
	for _, k := range keys {
		kind, key, _ := bytes.Cut(k, []byte{0})
		e, ok, err := t.get(OIDCKind(kind), string(key))
		if err != nil {
			return out, err
		}
		if !ok {
			continue
		}
		if err := t.del(e); err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

// InsertOIDC adds an OpenID provider entry; ErrDuplicate when a live
// (unexpired at now) entry has its kind and key. An expired one is
// replaced.
func (s *Bolt) InsertOIDC(ctx context.Context, e OIDCEntry, now time.Time) error {
	if !e.valid() {
		return fmt.Errorf("insert oidc %s: %w", e.Kind, ErrOIDCEntry)
	}
	err := s.db.Batch(func(tx *bolt.Tx) error {
		t, err := openOIDCTx(tx)
		if err != nil {
			return err
		}
		old, had, err := t.get(e.Kind, e.Key)
		if err != nil {
			return err
		}
		if had && now.Before(old.Expires) {
			return ErrDuplicate
		}
		return t.replace(old, e, had)
	})
	if err != nil {
		return fmt.Errorf("insert oidc %s: %w", e.Kind, err)
	}
	return nil
}

// PutOIDC adds or replaces an OpenID provider entry.
func (s *Bolt) PutOIDC(ctx context.Context, e OIDCEntry) error {
	if !e.valid() {
		return fmt.Errorf("put oidc %s: %w", e.Kind, ErrOIDCEntry)
	}
	err := s.db.Batch(func(tx *bolt.Tx) error {
		t, err := openOIDCTx(tx)
		if err != nil {
			return err
		}
		old, had, err := t.get(e.Kind, e.Key)
		if err != nil {
			return err
		}
		if err := putPendingAudit(tx, e.AuditPending); err != nil {
			return err
		}
		return t.replace(old, e, had)
	})
	if err != nil {
		return fmt.Errorf("put oidc %s: %w", e.Kind, err)
	}
	return nil
}

// OIDC returns the live entry of kind and key, or ErrNotFound.
func (s *Bolt) OIDC(ctx context.Context, kind OIDCKind, key string, now time.Time) (OIDCEntry, error) {
	var e OIDCEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOIDCState)
		if b == nil {
			return ErrNotFound
		}
		v := b.Get(oidcKey(kind, key))
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &e); err != nil {
			return err
		}
		if !now.Before(e.Expires) {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return OIDCEntry{}, fmt.Errorf("oidc %s: %w", kind, err)
	}
	return e, nil
}

// UpdateOIDC changes the live entry of kind and key with fn, atomically:
// concurrent updates of one entry run one after the other, each seeing
// the previous one's result. An error from fn changes nothing and is
// returned (wrapped). fn may change Identity, Grant, Doc and Expires.
// The entry as fn left it is returned, with fn's error too.
func (s *Bolt) UpdateOIDC(ctx context.Context, kind OIDCKind, key string, now time.Time, fn func(*OIDCEntry) error) (OIDCEntry, error) {
	var out OIDCEntry
	err := s.db.Update(func(tx *bolt.Tx) error {
		t, err := openOIDCTx(tx)
		if err != nil {
			return err
		}
		old, had, err := t.get(kind, key)
		if err != nil {
			return err
		}
		if !had || !now.Before(old.Expires) {
			return ErrNotFound
		}
		e := old
		e.Doc = bytes.Clone(old.Doc)
		err = fn(&e)
		out = e
		if err != nil {
			return err
		}
		e.Kind, e.Key = kind, key
		if !e.valid() {
			return ErrOIDCEntry
		}
		return t.replace(old, e, true)
	})
	if err != nil {
		return out, fmt.Errorf("update oidc %s: %w", kind, err)
	}
	return out, nil
}

// DeleteOIDC deletes the entry of kind and key, if any.
func (s *Bolt) DeleteOIDC(ctx context.Context, kind OIDCKind, key string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		t, err := openOIDCTx(tx)
		if err != nil {
			return err
		}
		e, had, err := t.get(kind, key)
		if err != nil || !had {
			return err
		}
		return t.del(e)
	})
	if err != nil {
		return fmt.Errorf("delete oidc %s: %w", kind, err)
	}
	return nil
}

// DeleteOIDCByIdentity deletes every entry of the citizen identity,
// expired or not, and returns them (single sign-out).
func (s *Bolt) DeleteOIDCByIdentity(ctx context.Context, identity string) ([]OIDCEntry, error) {
	return s.deleteOIDCIndexed("identity", identity, func(t oidcTx) *bolt.Bucket { return t.byIdentity })
}

// DeleteOIDCByGrant deletes every entry that descends from the
// authorization grant, expired or not, and returns them (revocation of
// a token family).
func (s *Bolt) DeleteOIDCByGrant(ctx context.Context, grant string) ([]OIDCEntry, error) {
	return s.deleteOIDCIndexed("grant", grant, func(t oidcTx) *bolt.Bucket { return t.byGrant })
}

func (s *Bolt) deleteOIDCIndexed(what, value string, index func(oidcTx) *bolt.Bucket) ([]OIDCEntry, error) {
	if value == "" {
		return nil, fmt.Errorf("delete oidc by %s: empty %s", what, what)
	}
	var out []OIDCEntry
	err := s.db.Update(func(tx *bolt.Tx) error {
		t, err := openOIDCTx(tx)
		if err != nil {
			return err
		}
		out, err = t.deleteIndexed(index(t), value)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete oidc by %s: %w", what, err)
	}
	return out, nil
}

// PurgeOIDC deletes up to limit entries expired at now, oldest first, and
// returns how many it deleted.
func (s *Bolt) PurgeOIDC(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		t, err := openOIDCTx(tx)
		if err != nil {
			return err
		}
		var expired []OIDCEntry
		c := t.byExpiry.Cursor()
		for k, _ := c.First(); k != nil && len(expired) < limit; k, _ = c.Next() {
			if len(k) < 8 || int64(binary.BigEndian.Uint64(k)) > now.UnixNano() {
				break
			}
			kind, key, _ := bytes.Cut(k[8:], []byte{0})
			e, ok, err := t.get(OIDCKind(kind), string(key))
			if err != nil {
				return err
			}
			if ok {
				expired = append(expired, e)
			}
		}
		for _, e := range expired {
			if err := t.del(e); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("purge oidc: %w", err)
	}
	return n, nil
}
