package store

import "time"

// The audit log's records, as the store keeps them. Their meaning (the
// encoding of a record, how leaf and node hashes are computed, what a
// checkpoint says) belongs to package audit; the store only keeps the bytes,
// checks that indexes are contiguous and writes each append durably.

// AuditEntry is one record of the audit log.
type AuditEntry struct {
	// Index is the record's position in the log, from 0, without gaps.
	Index uint64 `json:"index"`
	// Record is the record's canonical encoding: the bytes hashed into the
	// Merkle tree's leaf. It holds no personal data.
	Record []byte `json:"record"`
	// Details are kept apart from the record, until their retention period
	// ends. Nil when the event had none or they were purged.
	Details *AuditDetails `json:"details,omitempty"`
	// Source, when set, names the event the record copies from another
	// part of the store ("enrollment.event:<id>"): the store keeps at most
	// one entry per source, so a record copied again after a crash is
	// refused (ErrDuplicate) rather than appended twice. Only appends
	// carry it; AuditEntries leaves it empty (package audit keeps it in
	// the record as well).
	Source string `json:"source,omitempty"`
}

// AuditDetails are the details of an audit event, which may hold personal
// data. The record carries only a salted digest of them, so purging them
// leaves nothing to guess from.
type AuditDetails struct {
	Salt        []byte    `json:"salt"`
	Data        []byte    `json:"data"`
	RetainUntil time.Time `json:"retain_until"`
}

// AuditNodeID names a node of the audit log's Merkle tree: Level 0 holds the
// leaf hashes; node (l+1, i) is the parent of (l, 2i) and (l, 2i+1). Only
// the nodes of perfect subtrees are stored.
type AuditNodeID struct {
	Level uint8  `json:"level"`
	Index uint64 `json:"index"`
}

// AuditNode is a stored node hash.
type AuditNode struct {
	AuditNodeID
	Hash []byte `json:"hash"`
}

// AuditHead is the state of the log after its last append: its size and the
// hashes of the roots of the perfect subtrees that cover it, left to right
// (the tree's frontier, a compact range).
type AuditHead struct {
	Size     uint64   `json:"size"`
	Frontier [][]byte `json:"frontier"`
}

// AuditAppend is what one append writes, in one transaction: the entry at
// index Head.Size-1, the new tree nodes (the leaf at level 0 first) and the
// new head.
type AuditAppend struct {
	Entry AuditEntry
	Nodes []AuditNode
	Head  AuditHead
}

// AuditCheckpoint is a signed statement of the log's size and root hash.
// Note is the signed text, opaque to the store.
type AuditCheckpoint struct {
	Size      uint64    `json:"size"`
	Note      []byte    `json:"note"`
	CreatedAt time.Time `json:"created_at"`
}
