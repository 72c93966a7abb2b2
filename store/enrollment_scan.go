package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Paged scans of identities and officers, for work over all of them (key
// rotation): each call returns at most max records after a key, in key
// order, so a long scan is many short transactions.

// IdentitiesAfter implements [EnrollmentTx].
func (t *boltEnrollTx) IdentitiesAfter(after string, max int) ([]Identity, error) {
	var out []Identity
	err := scanAfter(t.b(bucketIdentities), after, max, func(v []byte) error {
		var i Identity
		if err := json.Unmarshal(v, &i); err != nil {
			return err
		}
		out = append(out, i)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("identities: %w", err)
	}
	return out, nil
}

// OfficersAfter implements [EnrollmentTx].
func (t *boltEnrollTx) OfficersAfter(after string, max int) ([]Officer, error) {
	var out []Officer
	err := scanAfter(t.b(bucketOfficers), after, max, func(v []byte) error {
		var o Officer
		if err := json.Unmarshal(v, &o); err != nil {
			return err
		}
		out = append(out, o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("officers: %w", err)
	}
	return out, nil
}

// scanAfter calls fn for up to max values whose keys follow after.
func scanAfter(b *bolt.Bucket, after string, max int, fn func(v []byte) error) error {
	if b == nil {
		return nil
	}
	c := b.Cursor()
	k, v := c.Seek([]byte(after))
	if k != nil && bytes.Equal(k, []byte(after)) {
		k, v = c.Next()
	}
	for n := 0; k != nil && n < max; k, v = c.Next() {
		if err := fn(v); err != nil {
			return err
		}
		n++
	}
	return nil
}

func (emptyTx) IdentitiesAfter(string, int) ([]Identity, error) { return nil, nil }
func (emptyTx) OfficersAfter(string, int) ([]Officer, error)    { return nil, nil }

// IdentitiesAfter implements [EnrollmentTx].
func (t *pgEnrollTx) IdentitiesAfter(after string, max int) ([]Identity, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT doc FROM enr_identities WHERE national_id > $1 ORDER BY national_id LIMIT $2", after, max)
	if err != nil {
		return nil, fmt.Errorf("identities: %w", err)
	}
	out, err := collectDocs[Identity](rows)
	if err != nil {
		return nil, fmt.Errorf("identities: %w", err)
	}
	return out, nil
}

// OfficersAfter implements [EnrollmentTx].
func (t *pgEnrollTx) OfficersAfter(after string, max int) ([]Officer, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT doc FROM enr_officers WHERE username > $1 ORDER BY username LIMIT $2", after, max)
	if err != nil {
		return nil, fmt.Errorf("officers: %w", err)
	}
	out, err := collectDocs[Officer](rows)
	if err != nil {
		return nil, fmt.Errorf("officers: %w", err)
	}
	return out, nil
}
