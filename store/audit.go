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
)

var (
	bucketAuditRecords     = []byte("audit_records")     // index -> record bytes
	bucketAuditDetails     = []byte("audit_details")     // index -> AuditDetails
	bucketAuditRetention   = []byte("audit_retention")   // retain-until (unix ns) || index -> nil
	bucketAuditNodes       = []byte("audit_nodes")       // level || index -> hash
	bucketAuditLeaves      = []byte("audit_leaves")      // leaf hash -> index
	bucketAuditCheckpoints = []byte("audit_checkpoints") // size -> AuditCheckpoint
	bucketAuditMeta        = []byte("audit_meta")        // "head" -> AuditHead
	bucketAuditSources     = []byte("audit_sources")     // source -> index

	keyAuditHead = []byte("head")

	auditBuckets = [][]byte{bucketAuditRecords, bucketAuditDetails, bucketAuditRetention,
		bucketAuditNodes, bucketAuditLeaves, bucketAuditCheckpoints, bucketAuditMeta, bucketAuditSources}
)

// maxAuditProofNodes bounds one AuditNodes call: a proof in a tree of 2^64
// leaves needs at most 128 nodes; verification reads in pages.
const maxAuditProofNodes = 4096

func auditKey(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

func auditNodeKey(id AuditNodeID) []byte {
	return binary.BigEndian.AppendUint64([]byte{id.Level}, id.Index)
}

func auditRetentionKey(until time.Time, index uint64) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(until.UnixNano()))
	return binary.BigEndian.AppendUint64(k, index)
}

func auditBucketsExist(tx *bolt.Tx) bool { return tx.Bucket(bucketAuditMeta) != nil }

// AppendAudit appends entries to the audit log in one durable
// transaction. build receives the current head and returns the appends in
// order; the store checks that each entry goes at the next index, that its
// first node is its leaf and that each head is one larger than the one
// before, then commits. Nothing is written when build or a check fails.
// Callers batch concurrent appends themselves (package audit does), so
// build runs once. An entry whose Source is already in the log fails the
// whole append with ErrDuplicate (see [Bolt.AuditSourceIndexes]).
func (s *Bolt) AppendAudit(ctx context.Context, build func(head AuditHead) ([]AuditAppend, error)) ([]AuditAppend, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("append audit: %w", err)
	}
	var out []AuditAppend
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range auditBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		head, err := auditHead(tx)
		if err != nil {
			return err
		}
		as, err := build(head)
		if err != nil {
			return err
		}
		for _, a := range as {
			if err := checkAuditAppend(head, a); err != nil {
				return err
			}
			if err := putAuditAppend(tx, a); err != nil {
				return err
			}
			head = a.Head
		}
		out = as
		return putJSON(tx.Bucket(bucketAuditMeta), string(keyAuditHead), head)
	})
	if err != nil {
		return nil, fmt.Errorf("append audit: %w", err)
	}
	return out, nil
}

func checkAuditAppend(head AuditHead, a AuditAppend) error {
	switch {
	case a.Entry.Index != head.Size:
		return fmt.Errorf("entry index %d, log size %d: %w", a.Entry.Index, head.Size, ErrConflict)
	case a.Head.Size != head.Size+1:
		return fmt.Errorf("new head size %d after %d: %w", a.Head.Size, head.Size, ErrConflict)
	case len(a.Nodes) == 0 || a.Nodes[0].AuditNodeID != (AuditNodeID{0, a.Entry.Index}):
		return errors.New("first node must be the entry's leaf")
	case len(a.Entry.Record) == 0:
		return errors.New("empty record")
	}
	return nil
}

func putAuditAppend(tx *bolt.Tx, a AuditAppend) error {
	k := auditKey(a.Entry.Index)
	if err := tx.Bucket(bucketAuditRecords).Put(k, a.Entry.Record); err != nil {
		return err
	}
	if d := a.Entry.Details; d != nil {
		if err := putJSON(tx.Bucket(bucketAuditDetails), string(k), d); err != nil {
			return err
		}
		if err := tx.Bucket(bucketAuditRetention).Put(auditRetentionKey(d.RetainUntil, a.Entry.Index), nil); err != nil {
			return err
		}
	}
	nodes := tx.Bucket(bucketAuditNodes)
	for _, n := range a.Nodes {
		if err := nodes.Put(auditNodeKey(n.AuditNodeID), n.Hash); err != nil {
			return err
		}
	}
	if a.Entry.Source != "" {
		sources := tx.Bucket(bucketAuditSources)
		if sources.Get([]byte(a.Entry.Source)) != nil {
			return fmt.Errorf("record of source %q: %w", a.Entry.Source, ErrDuplicate)
		}
		if err := sources.Put([]byte(a.Entry.Source), k); err != nil {
			return err
		}
	}
	leaves := tx.Bucket(bucketAuditLeaves)
	if leaves.Get(a.Nodes[0].Hash) == nil {
		if err := leaves.Put(a.Nodes[0].Hash, k); err != nil {
			return err
		}
	}
	return nil
}

func auditHead(tx *bolt.Tx) (AuditHead, error) {
	var h AuditHead
	if !auditBucketsExist(tx) {
		return h, nil
	}
	err := getJSON(tx.Bucket(bucketAuditMeta), string(keyAuditHead), &h)
	if errors.Is(err, ErrNotFound) {
		return AuditHead{}, nil
	}
	return h, err
}

// AuditHead returns the audit log's current head; the zero head when the
// log is empty.
func (s *Bolt) AuditHead(ctx context.Context) (AuditHead, error) {
	var h AuditHead
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		h, err = auditHead(tx)
		return err
	})
	if err != nil {
		return AuditHead{}, fmt.Errorf("audit head: %w", err)
	}
	return h, nil
}

// AuditEntries returns up to limit entries (1 to 1000; 0 means 100) in index
// order, starting with the first stored index >= from. Gaps in the stored
// indexes show as gaps in the result.
func (s *Bolt) AuditEntries(ctx context.Context, from uint64, limit int) ([]AuditEntry, error) {
	limit = Page{Limit: limit}.limit()
	var out []AuditEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		if !auditBucketsExist(tx) {
			return nil
		}
		details := tx.Bucket(bucketAuditDetails)
		cur := tx.Bucket(bucketAuditRecords).Cursor()
		for k, v := cur.Seek(auditKey(from)); k != nil && len(out) < limit; k, v = cur.Next() {
			if len(k) != 8 {
				return fmt.Errorf("malformed record key %x", k)
			}
			e := AuditEntry{Index: binary.BigEndian.Uint64(k), Record: bytes.Clone(v)}
			if raw := details.Get(k); raw != nil {
				e.Details = new(AuditDetails)
				if err := json.Unmarshal(raw, e.Details); err != nil {
					return fmt.Errorf("details of record %d: %w", e.Index, err)
				}
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	return out, nil
}

// AuditSourceIndexes returns the indexes of the entries whose Source is
// one of sources (at most 1000); sources without an entry are absent
// from the map.
func (s *Bolt) AuditSourceIndexes(ctx context.Context, sources []string) (map[string]uint64, error) {
	if len(sources) > 1000 {
		return nil, fmt.Errorf("audit sources: %d asked, at most 1000", len(sources))
	}
	out := make(map[string]uint64)
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAuditSources)
		if b == nil {
			return nil
		}
		for _, src := range sources {
			if v := b.Get([]byte(src)); len(v) == 8 {
				out[src] = binary.BigEndian.Uint64(v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit sources: %w", err)
	}
	return out, nil
}

// AuditEntry returns the entry at index, or ErrNotFound.
func (s *Bolt) AuditEntry(ctx context.Context, index uint64) (AuditEntry, error) {
	es, err := s.AuditEntries(ctx, index, 1)
	if err != nil {
		return AuditEntry{}, err
	}
	if len(es) == 0 || es[0].Index != index {
		return AuditEntry{}, fmt.Errorf("audit entry %d: %w", index, ErrNotFound)
	}
	return es[0], nil
}

// AuditNodes returns the stored hashes of the nodes ids, in order
// (at most 4096 of them); ErrNotFound when one is missing.
func (s *Bolt) AuditNodes(ctx context.Context, ids []AuditNodeID) ([][]byte, error) {
	if len(ids) > maxAuditProofNodes {
		return nil, fmt.Errorf("audit nodes: %d requested, at most %d", len(ids), maxAuditProofNodes)
	}
	out := make([][]byte, len(ids))
	err := s.db.View(func(tx *bolt.Tx) error {
		var b *bolt.Bucket
		if auditBucketsExist(tx) {
			b = tx.Bucket(bucketAuditNodes)
		}
		for i, id := range ids {
			var v []byte
			if b != nil {
				v = b.Get(auditNodeKey(id))
			}
			if v == nil {
				return fmt.Errorf("node (%d, %d): %w", id.Level, id.Index, ErrNotFound)
			}
			out[i] = bytes.Clone(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit nodes: %w", err)
	}
	return out, nil
}

// AuditLeafIndex returns the index of the first entry whose leaf hash is
// hash, or ErrNotFound.
func (s *Bolt) AuditLeafIndex(ctx context.Context, hash []byte) (uint64, error) {
	var idx uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if !auditBucketsExist(tx) {
			return ErrNotFound
		}
		v := tx.Bucket(bucketAuditLeaves).Get(hash)
		if len(v) != 8 {
			return ErrNotFound
		}
		idx = binary.BigEndian.Uint64(v)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("audit leaf %x: %w", hash, err)
	}
	return idx, nil
}

// SaveAuditCheckpoint stores a signed checkpoint. ErrDuplicate when one of
// that size exists; ErrConflict when its size is smaller than the latest's
// or larger than the log.
func (s *Bolt) SaveAuditCheckpoint(ctx context.Context, c AuditCheckpoint) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range auditBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		head, err := auditHead(tx)
		if err != nil {
			return err
		}
		if c.Size > head.Size {
			return fmt.Errorf("size %d beyond the log's %d: %w", c.Size, head.Size, ErrConflict)
		}
		b := tx.Bucket(bucketAuditCheckpoints)
		k, _ := b.Cursor().Last()
		switch {
		case k != nil && binary.BigEndian.Uint64(k) == c.Size:
			return fmt.Errorf("size %d: %w", c.Size, ErrDuplicate)
		case k != nil && binary.BigEndian.Uint64(k) > c.Size:
			return fmt.Errorf("size %d older than the latest: %w", c.Size, ErrConflict)
		}
		return putJSON(b, string(auditKey(c.Size)), c)
	})
	if err != nil {
		return fmt.Errorf("save audit checkpoint: %w", err)
	}
	return nil
}

// LatestAuditCheckpoint returns the checkpoint of the largest size, or
// ErrNotFound before the first.
func (s *Bolt) LatestAuditCheckpoint(ctx context.Context) (AuditCheckpoint, error) {
	var c AuditCheckpoint
	err := s.db.View(func(tx *bolt.Tx) error {
		if !auditBucketsExist(tx) {
			return ErrNotFound
		}
		_, v := tx.Bucket(bucketAuditCheckpoints).Cursor().Last()
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &c)
	})
	if err != nil {
		return AuditCheckpoint{}, fmt.Errorf("latest audit checkpoint: %w", err)
	}
	return c, nil
}

// AuditCheckpoints returns up to limit checkpoints (1 to 1000; 0 means 100)
// in size order, starting with the first of size >= from.
func (s *Bolt) AuditCheckpoints(ctx context.Context, from uint64, limit int) ([]AuditCheckpoint, error) {
	limit = Page{Limit: limit}.limit()
	var out []AuditCheckpoint
	err := s.db.View(func(tx *bolt.Tx) error {
		if !auditBucketsExist(tx) {
			return nil
		}
		cur := tx.Bucket(bucketAuditCheckpoints).Cursor()
		for k, v := cur.Seek(auditKey(from)); k != nil && len(out) < limit; k, v = cur.Next() {
			var c AuditCheckpoint
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("checkpoint %x: %w", k, err)
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	return out, nil
}

// PurgeAuditDetails deletes the details of at most limit entries (1 to 1000;
// 0 means 100) whose retention ended before now, and reports how many it
// deleted. The records and the tree are untouched.
func (s *Bolt) PurgeAuditDetails(ctx context.Context, now time.Time, limit int) (int, error) {
	limit = Page{Limit: limit}.limit()
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		if !auditBucketsExist(tx) {
			return nil
		}
		ret, details := tx.Bucket(bucketAuditRetention), tx.Bucket(bucketAuditDetails)
		end := auditRetentionKey(now, 0)
		cur := ret.Cursor()
		for k, _ := cur.First(); k != nil && n < limit && bytes.Compare(k, end) < 0; k, _ = cur.First() {
			if len(k) != 16 {
				return fmt.Errorf("malformed retention key %x", k)
			}
			if err := details.Delete(k[8:]); err != nil {
				return err
			}
			if err := cur.Delete(); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge audit details: %w", err)
	}
	return n, nil
}
