package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/thiqa/thiqa/store"
)

func rfc6962Empty() []byte { return rfc6962.DefaultHasher.EmptyRoot() }

// InclusionProof proves that the leaf at Index is in the tree of Size.
// Check it with proof.VerifyInclusion of github.com/transparency-dev/merkle
// against the root of a checkpoint of that size.
type InclusionProof struct {
	Index    uint64   `json:"index"`
	Size     uint64   `json:"size"`
	LeafHash []byte   `json:"leaf_hash"`
	Hashes   [][]byte `json:"hashes"`
}

// ConsistencyProof proves that the tree of size To extends the tree of size
// From (proof.VerifyConsistency).
type ConsistencyProof struct {
	From   uint64   `json:"from"`
	To     uint64   `json:"to"`
	Hashes [][]byte `json:"hashes"`
}

func (l *Log) checkSize(ctx context.Context, size uint64) error {
	head, err := l.st.AuditHead(ctx)
	if err != nil {
		return err
	}
	if size > head.Size {
		return fmt.Errorf("%w: size %d, log has %d", ErrOutOfRange, size, head.Size)
	}
	return nil
}

// fetch returns the hashes of the proof's nodes, rehashed into the proof.
func (l *Log) fetch(ctx context.Context, nodes proof.Nodes, extra ...compact.NodeID) ([][]byte, [][]byte, error) {
	ids := make([]store.AuditNodeID, 0, len(nodes.IDs)+len(extra))
	for _, id := range append(nodes.IDs[:len(nodes.IDs):len(nodes.IDs)], extra...) {
		ids = append(ids, nodeID(id))
	}
	hs, err := l.st.AuditNodes(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	p, err := nodes.Rehash(hs[:len(nodes.IDs)], rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		return nil, nil, err
	}
	return p, hs[len(nodes.IDs):], nil
}

// InclusionProof returns the proof that the record at index is in the tree
// of size.
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) (InclusionProof, error) {
	if err := l.checkSize(ctx, size); err != nil {
		return InclusionProof{}, fmt.Errorf("inclusion proof: %w", err)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return InclusionProof{}, fmt.Errorf("inclusion proof: %w: %w", ErrOutOfRange, err)
	}
	hs, leaf, err := l.fetch(ctx, nodes, compact.NewNodeID(0, index))
	if err != nil {
		return InclusionProof{}, fmt.Errorf("inclusion proof: %w", err)
	}
	return InclusionProof{Index: index, Size: size, LeafHash: leaf[0], Hashes: hs}, nil
}

// InclusionProofByHash is InclusionProof for the first record whose leaf
// hash is leafHash; ErrOutOfRange when no record of the tree of size has it.
func (l *Log) InclusionProofByHash(ctx context.Context, leafHash []byte, size uint64) (InclusionProof, error) {
	i, err := l.st.AuditLeafIndex(ctx, leafHash)
	if errors.Is(err, store.ErrNotFound) || (err == nil && i >= size) {
		return InclusionProof{}, fmt.Errorf("inclusion proof: %w: no such leaf in the tree of size %d", ErrOutOfRange, size)
	}
	if err != nil {
		return InclusionProof{}, fmt.Errorf("inclusion proof: %w", err)
	}
	return l.InclusionProof(ctx, i, size)
}

// ConsistencyProof returns the proof that the tree of size to extends the
// tree of size from.
func (l *Log) ConsistencyProof(ctx context.Context, from, to uint64) (ConsistencyProof, error) {
	if err := l.checkSize(ctx, to); err != nil {
		return ConsistencyProof{}, fmt.Errorf("consistency proof: %w", err)
	}
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		return ConsistencyProof{}, fmt.Errorf("consistency proof: %w: %w", ErrOutOfRange, err)
	}
	hs, _, err := l.fetch(ctx, nodes)
	if err != nil {
		return ConsistencyProof{}, fmt.Errorf("consistency proof: %w", err)
	}
	if hs == nil {
		hs = [][]byte{}
	}
	return ConsistencyProof{From: from, To: to, Hashes: hs}, nil
}

// RootAt returns the root hash of the tree of size (at most the log's).
func (l *Log) RootAt(ctx context.Context, size uint64) ([]byte, error) {
	if err := l.checkSize(ctx, size); err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	if size == 0 {
		return rfc6962Empty(), nil
	}
	ids := compact.RangeNodes(0, size, nil)
	sids := make([]store.AuditNodeID, len(ids))
	for i, id := range ids {
		sids[i] = nodeID(id)
	}
	hs, err := l.st.AuditNodes(ctx, sids)
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	r, err := rangeFactory.NewRange(0, size, hs)
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	return r.GetRootHash(nil)
}
