package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"

	"github.com/thiqa/thiqa/store"
)

// IntegrityError names the first thing [Verify] found wrong.
type IntegrityError struct {
	// Index is the index of the bad record; for a checkpoint
	// (Checkpoint true) it is the checkpoint's tree size.
	Index      uint64 `json:"index"`
	Checkpoint bool   `json:"checkpoint"`
	// Reason says what is wrong, in a few words.
	Reason string `json:"reason"`
}

func (e *IntegrityError) Error() string {
	if e.Checkpoint {
		return fmt.Sprintf("checkpoint of size %d: %s", e.Index, e.Reason)
	}
	return fmt.Sprintf("record %d: %s", e.Index, e.Reason)
}

// Report is what a successful [Verify] checked.
type Report struct {
	// Records is how many records were checked (the log's size).
	Records uint64
	// Checkpoints is how many signed checkpoints matched the records.
	Checkpoints int
	// Latest is the latest checkpoint; records after its size are checked
	// against the stored tree only, not yet against a signature.
	Latest *Checkpoint
}

const verifyPage = 1000

// Reader is what verification reads; Store includes it.
type Reader interface {
	AuditHead(ctx context.Context) (store.AuditHead, error)
	AuditEntries(ctx context.Context, from uint64, limit int) ([]store.AuditEntry, error)
	AuditNodes(ctx context.Context, ids []store.AuditNodeID) ([][]byte, error)
	AuditCheckpoints(ctx context.Context, from uint64, limit int) ([]store.AuditCheckpoint, error)
}

// VerifyLive is Verify for a log that is being appended to: it checks the
// log up to the head it reads first and ignores the records and
// checkpoints added after that. It cannot detect a record planted beyond
// the head; Verify on a stopped node or a backup does.
func VerifyLive(ctx context.Context, r Reader, v *Verifier) (Report, error) {
	return verify(ctx, r, v, true)
}

// Verify recomputes the log's tree from its stored records and checks, in
// index order, that every record parses, sits at its index, matches its
// details' digest and its stored leaf and tree nodes; that the root at every
// stored checkpoint's size is the one the checkpoint signed with v's key;
// and that the stored head is the recomputed tree. The first problem is
// returned as an *IntegrityError; other errors are failures to read. The
// log must not be appended to meanwhile (verify a stopped node or a
// backup), or the newest records show as beyond the head.
func Verify(ctx context.Context, r Reader, v *Verifier) (Report, error) {
	return verify(ctx, r, v, false)
}

func verify(ctx context.Context, st Reader, v *Verifier, live bool) (Report, error) {
	vr := &verifier{st: st, v: v, r: rangeFactory.NewEmptyRange(0), live: live}
	head, err := st.AuditHead(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("verify audit log: %w", err)
	}
	if err := vr.loadCheckpoints(ctx, 0); err != nil {
		return vr.report, err
	}
	if head.Size > 0 && len(vr.pending) == 0 {
		return vr.report, &IntegrityError{Checkpoint: true, Reason: "no signed checkpoint in a log of " + fmt.Sprint(head.Size) + " records"}
	}
	if err := vr.checkpointsAt(map[uint64][]byte{0: rfc6962Empty()}); err != nil {
		return vr.report, err
	}
	for next := uint64(0); ; {
		es, err := st.AuditEntries(ctx, next, verifyPage)
		if err != nil {
			return vr.report, fmt.Errorf("verify audit log: %w", err)
		}
		if vr.live {
			es = before(es, head.Size)
		}
		if len(es) == 0 {
			break
		}
		if err := vr.page(ctx, es, head.Size); err != nil {
			return vr.report, err
		}
		next = es[len(es)-1].Index + 1
	}
	return vr.report, vr.finish(head)
}

type verifier struct {
	st      Reader
	live    bool
	v       *Verifier
	r       *compact.Range
	pending []Checkpoint // checkpoints not yet reached, in size order
	next    uint64       // size from which to load more checkpoints
	report  Report
}

func (vr *verifier) loadCheckpoints(ctx context.Context, from uint64) error {
	cs, err := vr.st.AuditCheckpoints(ctx, from, verifyPage)
	if err != nil {
		return fmt.Errorf("verify audit log: %w", err)
	}
	for _, sc := range cs {
		c, err := OpenCheckpoint(sc.Note, vr.v)
		if err != nil {
			return &IntegrityError{Index: sc.Size, Checkpoint: true, Reason: checkpointReason(err)}
		}
		if c.Size != sc.Size {
			return &IntegrityError{Index: sc.Size, Checkpoint: true, Reason: fmt.Sprintf("stored under size %d but signs size %d", sc.Size, c.Size)}
		}
		vr.pending = append(vr.pending, c)
		vr.next = sc.Size + 1
	}
	if len(cs) < verifyPage {
		vr.next = 0 // no more
	}
	return nil
}

// checkpointsAt checks, in order, the pending checkpoints whose roots were
// computed.
func (vr *verifier) checkpointsAt(roots map[uint64][]byte) error {
	for len(vr.pending) > 0 {
		c := vr.pending[0]
		root, ok := roots[c.Size]
		if !ok {
			return nil
		}
		if !bytes.Equal(root, c.Root) {
			first := uint64(0)
			if vr.report.Latest != nil {
				first = vr.report.Latest.Size
			}
			return &IntegrityError{Index: c.Size, Checkpoint: true, Reason: fmt.Sprintf(
				"root hash differs from the records': a record in [%d, %d) was rewritten along with the stored tree", first, c.Size)}
		}
		vr.report.Checkpoints++
		vr.report.Latest = &c
		vr.pending = vr.pending[1:]
	}
	return nil
}

func (vr *verifier) page(ctx context.Context, es []store.AuditEntry, size uint64) error {
	end := es[len(es)-1].Index + 1
	for vr.next != 0 && (len(vr.pending) == 0 || vr.pending[len(vr.pending)-1].Size < end) {
		if err := vr.loadCheckpoints(ctx, vr.next); err != nil {
			return err
		}
	}
	wanted := make(map[uint64]bool)
	for _, c := range vr.pending {
		wanted[c.Size] = true
	}
	roots := make(map[uint64][]byte)
	var ids []store.AuditNodeID
	var want [][]byte
	visit := func(id compact.NodeID, h []byte) {
		ids = append(ids, nodeID(id))
		want = append(want, h)
	}
	for _, e := range es {
		i := vr.r.End()
		if e.Index != i {
			return &IntegrityError{Index: i, Reason: "missing"}
		}
		if i >= size {
			return &IntegrityError{Index: i, Reason: fmt.Sprintf("beyond the log's head (size %d)", size)}
		}
		if err := checkEntry(e); err != nil {
			return err
		}
		if err := vr.r.Append(LeafHash(e.Record), visit); err != nil {
			return fmt.Errorf("verify audit log: %w", err)
		}
		vr.report.Records++
		if wanted[i+1] {
			root, err := vr.r.GetRootHash(nil)
			if err != nil {
				return fmt.Errorf("verify audit log: %w", err)
			}
			roots[i+1] = root
		}
	}
	// Stored nodes first: they name the record, where a checkpoint can
	// only name a range.
	if err := vr.checkNodes(ctx, ids, want); err != nil {
		return err
	}
	return vr.checkpointsAt(roots)
}

func checkEntry(e store.AuditEntry) error {
	r, err := ParseRecord(e.Record)
	if err != nil {
		return &IntegrityError{Index: e.Index, Reason: err.Error()}
	}
	if r.Index != e.Index {
		return &IntegrityError{Index: e.Index, Reason: fmt.Sprintf("record says index %d", r.Index)}
	}
	switch d := e.Details; {
	case d != nil && r.Details == "":
		return &IntegrityError{Index: e.Index, Reason: "details stored for a record without a details digest"}
	case d != nil && DetailsDigest(d.Salt, d.Data) != r.Details:
		return &IntegrityError{Index: e.Index, Reason: "details do not match the record's digest"}
	}
	return nil
}

// checkNodes compares the stored tree nodes with the recomputed ones; a
// difference names the first record under the node.
func (vr *verifier) checkNodes(ctx context.Context, ids []store.AuditNodeID, want [][]byte) error {
	for len(ids) > 0 {
		n := min(len(ids), 4096)
		got, err := vr.st.AuditNodes(ctx, ids[:n])
		if errors.Is(err, store.ErrNotFound) {
			return vr.firstMissingNode(ctx, ids[:n])
		}
		if err != nil {
			return fmt.Errorf("verify audit log: %w", err)
		}
		for j := range got {
			if !bytes.Equal(got[j], want[j]) {
				return nodeError(ids[j], "stored leaf hash differs from the record's")
			}
		}
		ids, want = ids[n:], want[n:]
	}
	return nil
}

func (vr *verifier) firstMissingNode(ctx context.Context, ids []store.AuditNodeID) error {
	for _, id := range ids {
		if _, err := vr.st.AuditNodes(ctx, []store.AuditNodeID{id}); err != nil {
			return nodeError(id, "stored tree node missing")
		}
	}
	return errors.New("verify audit log: tree node vanished while reading")
}

func nodeError(id store.AuditNodeID, leafReason string) error {
	first := id.Index << id.Level
	if id.Level == 0 {
		return &IntegrityError{Index: first, Reason: leafReason}
	}
	return &IntegrityError{Index: first, Reason: fmt.Sprintf("stored tree node (level %d, index %d) differs from the records': a record in [%d, %d) was rewritten",
		id.Level, id.Index, first, first+1<<id.Level)}
}

func checkpointReason(err error) string {
	var invalid *note.InvalidSignatureError
	var unverified *note.UnverifiedNoteError
	switch {
	case errors.As(err, &invalid):
		return "signature does not verify"
	case errors.As(err, &unverified):
		return "not signed by the log's key"
	}
	return err.Error()
}

// before returns the entries of es with an index below size.
func before(es []store.AuditEntry, size uint64) []store.AuditEntry {
	for i, e := range es {
		if e.Index >= size {
			return es[:i]
		}
	}
	return es
}

func (vr *verifier) finish(head store.AuditHead) error {
	if vr.live {
		for len(vr.pending) > 0 && vr.pending[0].Size > head.Size {
			vr.pending = vr.pending[1:] // signed after the head was read
		}
	}
	if vr.r.End() < head.Size {
		return &IntegrityError{Index: vr.r.End(), Reason: fmt.Sprintf("missing (the log's head says %d records)", head.Size)}
	}
	if len(vr.pending) > 0 {
		c := vr.pending[0]
		return &IntegrityError{Index: c.Size, Checkpoint: true, Reason: fmt.Sprintf("signs a size beyond the %d stored records", vr.r.End())}
	}
	hs := vr.r.Hashes()
	if len(hs) != len(head.Frontier) {
		return &IntegrityError{Index: head.Size, Checkpoint: true, Reason: "stored head differs from the recomputed tree"}
	}
	for i := range hs {
		if !bytes.Equal(hs[i], head.Frontier[i]) {
			return &IntegrityError{Index: head.Size, Checkpoint: true, Reason: "stored head differs from the recomputed tree"}
		}
	}
	return nil
}
