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

var (
	bucketCatalogue     = []byte("cat_services") // code -> JSON CatalogueService
	bucketCatalogueMeta = []byte("cat_meta")     // "version" -> uint64
	keyCatalogueVersion = []byte("version")
)

// maxCatalogueBatch bounds one PutCatalogueServices call.
const maxCatalogueBatch = 10000

// sameService reports whether a and b differ only in Updated and Version.
func sameService(a, b CatalogueService) bool {
	a.Updated, a.Version, b.Updated, b.Version = time.Time{}, 0, time.Time{}, 0
	ra, _ := json.Marshal(a)
	rb, _ := json.Marshal(b)
	return bytes.Equal(ra, rb)
}

// mergeService returns the record to store for s given the stored one
// (ok when there is one), and whether anything changed.
func mergeService(old CatalogueService, ok bool, s CatalogueService, now time.Time) (CatalogueService, bool) {
	if ok && sameService(old, s) {
		return old, false
	}
	s.Updated, s.Version = now.UTC(), 1
	if ok {
		s.Version = old.Version + 1
	}
	return s, true
}

// PutCatalogueServices creates or replaces services by code, in one
// transaction: a record equal to the stored one is left as it is, so
// importing the same catalogue again changes nothing. Every call that
// changes something increases [Bolt.CatalogueVersion].
func (s *Bolt) PutCatalogueServices(ctx context.Context, svcs []CatalogueService, now time.Time) (CatalogueChanges, error) {
	var ch CatalogueChanges
	if len(svcs) > maxCatalogueBatch {
		return ch, fmt.Errorf("put catalogue services: more than %d in one call", maxCatalogueBatch)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		ch = CatalogueChanges{}
		b, err := tx.CreateBucketIfNotExists(bucketCatalogue)
		if err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(bucketCatalogueMeta)
		if err != nil {
			return err
		}
		for _, sv := range svcs {
			if sv.Code == "" {
				return fmt.Errorf("service code is required")
			}
			var old CatalogueService
			err := getJSON(b, sv.Code, &old)
			if err != nil && err != ErrNotFound {
				return err
			}
			rec, changed := mergeService(old, err == nil, sv, now)
			switch {
			case !changed:
				ch.Unchanged++
				continue
			case err == nil:
				ch.Updated++
			default:
				ch.Created++
			}
			if err := putJSON(b, sv.Code, rec); err != nil {
				return err
			}
		}
		if ch.Created+ch.Updated == 0 {
			return nil
		}
		v := uint64(0)
		if raw := meta.Get(keyCatalogueVersion); len(raw) == 8 {
			v = binary.BigEndian.Uint64(raw)
		}
		return meta.Put(keyCatalogueVersion, u64(v+1))
	})
	if err != nil {
		return CatalogueChanges{}, fmt.Errorf("put catalogue services: %w", err)
	}
	return ch, nil
}

// CatalogueService returns the service with that code, or ErrNotFound.
func (s *Bolt) CatalogueService(ctx context.Context, code string) (CatalogueService, error) {
	var out CatalogueService
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCatalogue)
		if b == nil {
			return ErrNotFound
		}
		return getJSON(b, code, &out)
	})
	if err != nil {
		return CatalogueService{}, fmt.Errorf("catalogue service %q: %w", code, err)
	}
	return out, nil
}

// CatalogueServices lists services in order of code, a page at a time.
func (s *Bolt) CatalogueServices(ctx context.Context, p Page) ([]CatalogueService, error) {
	var out []CatalogueService
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCatalogue)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.Seek([]byte(p.After))
		if k != nil && string(k) == p.After {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < p.limit(); k, v = c.Next() {
			var sv CatalogueService
			if err := json.Unmarshal(v, &sv); err != nil {
				return err
			}
			out = append(out, sv)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("catalogue services: %w", err)
	}
	return out, nil
}

// CatalogueVersion is a number that grows whenever the catalogue changes
// (0 for an empty one), so that readers can cache it.
func (s *Bolt) CatalogueVersion(ctx context.Context) (int64, error) {
	var v uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketCatalogueMeta); b != nil {
			if raw := b.Get(keyCatalogueVersion); len(raw) == 8 {
				v = binary.BigEndian.Uint64(raw)
			}
		}
		return nil
	})
	return int64(v), err
}
