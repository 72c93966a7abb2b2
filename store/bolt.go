package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Bolt is the embedded store: one bbolt file. Safe for concurrent use;
// concurrent inserts are grouped into one transaction and one fsync.
type Bolt struct {
	db     *bolt.DB
	limits memLimits // rate-limit counters (ratelimit.go)
}

var (
	bucketCerts   = []byte("certificates")
	bucketRevoked = []byte("revoked") // sub-bucket per issuer: serial -> nil
	bucketCRLs    = []byte("crls")    // issuer -> latest CRL
	bucketMeta    = []byte("meta")
	// bucketCertChanges is the certificate change feed: sequence -> serial.
	bucketCertChanges = []byte("certificate_changes")

	keyCeremony = []byte("ceremony")
)

// OpenBolt opens (creating it if needed) the bbolt file at path.
func OpenBolt(path string) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.MaxBatchDelay = 2 * time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketCerts, bucketRevoked, bucketCRLs, bucketMeta, bucketCertChanges} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Bolt{db: db}, nil
}

// Close closes the store.
func (s *Bolt) Close() error { return s.db.Close() }

// DB returns the underlying bbolt handle, for hot backups.
func (s *Bolt) DB() *bolt.DB { return s.db }

// InsertCertificate stores a newly issued certificate; ErrDuplicate when its
// serial is taken.
func (s *Bolt) InsertCertificate(ctx context.Context, c Certificate) error {
	if c.Serial == "" || c.Issuer == "" {
		return fmt.Errorf("insert certificate: serial and issuer are required")
	}
	if c.Status == "" {
		c.Status = StatusValid
	}
	c.Version = 1
	v, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("insert certificate: %w", err)
	}
	return s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCerts)
		if b.Get([]byte(c.Serial)) != nil {
			return fmt.Errorf("insert certificate %s: %w", c.Serial, ErrDuplicate)
		}
		if err := b.Put([]byte(c.Serial), v); err != nil {
			return err
		}
		if err := putCertAudit(tx, &c); err != nil {
			return err
		}
		if err := recordChange(tx, c.Serial); err != nil {
			return err
		}
		return indexRevocation(tx, c)
	})
}

// changeFeedSize is how many certificate changes the embedded store keeps.
const changeFeedSize = 100_000

func recordChange(tx *bolt.Tx, serial string) error {
	b := tx.Bucket(bucketCertChanges)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	if seq > changeFeedSize {
		if err := b.Delete(u64(seq - changeFeedSize)); err != nil {
			return err
		}
	}
	return b.Put(u64(seq), []byte(serial))
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// CertificateChanges returns the serials of certificates inserted or
// changed after position after of the change feed, oldest first (at most
// 1000), and the position to ask from next time. A serial may appear more
// than once; readers treat changes as idempotent invalidations.
func (s *Bolt) CertificateChanges(ctx context.Context, after uint64) ([]string, uint64, error) {
	var out []string
	next := after
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketCertChanges).Cursor()
		for k, v := cur.Seek(u64(after + 1)); k != nil && len(out) < 1000; k, v = cur.Next() {
			out = append(out, string(v))
			next = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return out, next, err
}

// Certificate returns the certificate with the given serial.
func (s *Bolt) Certificate(ctx context.Context, serial string) (Certificate, error) {
	var c Certificate
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketCerts), serial, &c)
	})
	if err != nil {
		return Certificate{}, fmt.Errorf("certificate %s: %w", serial, err)
	}
	return c, nil
}

// Certificates lists certificates in serial order, optionally only those of
// one issuer.
func (s *Bolt) Certificates(ctx context.Context, issuer string, p Page) ([]Certificate, error) {
	var out []Certificate
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketCerts).Cursor()
		k, v := cur.Seek([]byte(p.After))
		if k != nil && p.After != "" && bytes.Equal(k, []byte(p.After)) {
			k, v = cur.Next()
		}
		for ; k != nil && len(out) < p.limit(); k, v = cur.Next() {
			var c Certificate
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			if issuer == "" || c.Issuer == issuer {
				out = append(out, c)
			}
		}
		return nil
	})
	return out, err
}

// UpdateCertificate reads the certificate with the given serial, applies fn
// and stores the result in one transaction. When fn returns an error nothing
// is stored and that error is returned.
func (s *Bolt) UpdateCertificate(ctx context.Context, serial string, fn func(*Certificate) error) (Certificate, error) {
	var c Certificate
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCerts)
		if err := getJSON(b, serial, &c); err != nil {
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
		if err := putJSON(b, serial, c); err != nil {
			return err
		}
		if err := putCertAudit(tx, &c); err != nil {
			return err
		}
		if err := recordChange(tx, serial); err != nil {
			return err
		}
		return indexRevocation(tx, c)
	})
	if err != nil {
		return Certificate{}, fmt.Errorf("update certificate %s: %w", serial, err)
	}
	return c, nil
}

// RevokedCertificates returns every certificate of issuer that is revoked or
// on hold, from an index kept beside the certificates (no full scan).
func (s *Bolt) RevokedCertificates(ctx context.Context, issuer string) ([]Certificate, error) {
	var out []Certificate
	err := s.db.View(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketRevoked).Bucket([]byte(issuer))
		if idx == nil {
			return nil
		}
		certs := tx.Bucket(bucketCerts)
		return idx.ForEach(func(k, _ []byte) error {
			var c Certificate
			if err := getJSON(certs, string(k), &c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

func indexRevocation(tx *bolt.Tx, c Certificate) error {
	idx, err := tx.Bucket(bucketRevoked).CreateBucketIfNotExists([]byte(c.Issuer))
	if err != nil {
		return err
	}
	if c.Status == StatusValid {
		return idx.Delete([]byte(c.Serial))
	}
	return idx.Put([]byte(c.Serial), nil)
}

// SaveCeremony records the key ceremony, once: ErrDuplicate if one was
// already saved.
func (s *Bolt) SaveCeremony(ctx context.Context, c Ceremony) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if b.Get(keyCeremony) != nil {
			return fmt.Errorf("save ceremony: %w", ErrDuplicate)
		}
		if err := putPendingAudit(tx, c.AuditPending); err != nil {
			return err
		}
		return putJSON(b, string(keyCeremony), c)
	})
}

// Ceremony returns the saved key ceremony, or ErrNotFound before the first.
func (s *Bolt) Ceremony(ctx context.Context) (Ceremony, error) {
	var c Ceremony
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketMeta), string(keyCeremony), &c) })
	if err != nil {
		return Ceremony{}, fmt.Errorf("ceremony: %w", err)
	}
	return c, nil
}

// IssueCRL allocates the next CRL number of issuer, calls build with it and
// stores the CRL it returns as the latest, in one transaction, so that CRL
// numbers strictly increase and are never reused.
func (s *Bolt) IssueCRL(ctx context.Context, issuer string, build func(number int64) (CRL, error)) (CRL, error) {
	var crl CRL
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCRLs)
		var last CRL
		if err := getJSON(b, issuer, &last); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		var err error
		crl, err = build(last.Number + 1)
		if err != nil {
			return err
		}
		crl.Issuer, crl.Number = issuer, last.Number+1
		return putJSON(b, issuer, crl)
	})
	if err != nil {
		return CRL{}, fmt.Errorf("issue CRL for %s: %w", issuer, err)
	}
	return crl, nil
}

// LatestCRL returns the latest CRL of issuer.
func (s *Bolt) LatestCRL(ctx context.Context, issuer string) (CRL, error) {
	var crl CRL
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketCRLs), issuer, &crl) })
	if err != nil {
		return CRL{}, fmt.Errorf("latest CRL of %s: %w", issuer, err)
	}
	return crl, nil
}

func getJSON(b *bolt.Bucket, key string, v any) error {
	raw := b.Get([]byte(key))
	if raw == nil {
		return ErrNotFound
	}
	return json.Unmarshal(raw, v)
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}
