package audit

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/thiqa/thiqa/store"
)

// Store is what the log needs from persistence; store.Bolt implements it.
type Store interface {
	AppendAudit(ctx context.Context, build func(head store.AuditHead) ([]store.AuditAppend, error)) ([]store.AuditAppend, error)
	AuditHead(ctx context.Context) (store.AuditHead, error)
	AuditEntries(ctx context.Context, from uint64, limit int) ([]store.AuditEntry, error)
	AuditEntry(ctx context.Context, index uint64) (store.AuditEntry, error)
	AuditNodes(ctx context.Context, ids []store.AuditNodeID) ([][]byte, error)
	AuditLeafIndex(ctx context.Context, hash []byte) (uint64, error)
	AuditSourceIndexes(ctx context.Context, sources []string) (map[string]uint64, error)
	SaveAuditCheckpoint(ctx context.Context, c store.AuditCheckpoint) error
	LatestAuditCheckpoint(ctx context.Context) (store.AuditCheckpoint, error)
	AuditCheckpoints(ctx context.Context, from uint64, limit int) ([]store.AuditCheckpoint, error)
	PurgeAuditDetails(ctx context.Context, now time.Time, limit int) (int, error)
}

var _ Store = (*store.Bolt)(nil)

// DefaultOrigin names the log in its checkpoints.
const DefaultOrigin = "thiqa.jo/audit"

// Options are the log's optional settings; the zero value is usable.
type Options struct {
	// Origin is the log's name, the first line of its checkpoints and the
	// name of its signing key; default DefaultOrigin.
	Origin string
	// Retention is how long events' details are kept; default 7 years.
	Retention time.Duration
	// Clock replaces time.Now.
	Clock func() time.Time
	// Rand replaces crypto/rand for salts and signatures.
	Rand io.Reader
	// OnCommit, when set, is called after each successful store commit
	// with the actions of the events it wrote and how long it took (for
	// metrics). It must not block.
	OnCommit func(actions []string, took time.Duration)
}

// Log is the audit log. It keeps no state of its own beyond its settings,
// so several processes sharing a store (replicas on PostgreSQL) may append
// to one log. Safe for concurrent use.
type Log struct {
	st     Store
	key    crypto.Signer
	signer *noteSigner
	opts   Options

	mu       sync.Mutex
	queue    []*pending // events waiting for the next commit
	draining bool       // a goroutine commits the queue
}

// pending is an event waiting to be committed with others.
type pending struct {
	rec     Record // all but Index
	details *store.AuditDetails
	done    chan struct{}
	receipt Receipt
	err     error
}

// maxBatch bounds how many events one transaction commits.
const maxBatch = 1000

var rangeFactory = compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// New returns the log kept in st, whose checkpoints key signs. The key must
// be ECDSA P-256 (from key custody; see the package doc).
func New(st Store, key crypto.Signer, opts Options) (*Log, error) {
	if opts.Origin == "" {
		opts.Origin = DefaultOrigin
	}
	if opts.Retention <= 0 {
		opts.Retention = 7 * 365 * 24 * time.Hour
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	s, err := newNoteSigner(opts.Origin, key, opts.Rand)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return &Log{st: st, key: key, signer: s, opts: opts}, nil
}

// Receipt is what Append returns: enough to ask later for an inclusion
// proof (by Index or by LeafHash) and check it against a checkpoint.
type Receipt struct {
	Index    uint64 `json:"index"`
	LeafHash []byte `json:"leaf_hash"`
	// Record is the record's canonical encoding; LeafHash is its hash.
	Record []byte `json:"record"`
}

// Append records e and returns once the record is durably stored. It is
// the only call most packages need:
//
//	_, err := log.Append(ctx, audit.Event{Actor: "officer:" + o.Username,
//		Action: "enrollment.create", Subject: rec.ID, Details: evidence})
//
// Appends from many goroutines are grouped into one store transaction and
// one fsync (all the events that arrive while the previous transaction
// commits); their order in the log is the order in which they were queued.
// ErrBadEvent when e is malformed; the record is then not written. Once
// queued, an event is committed even if ctx ends, and Append waits for the
// outcome. An event whose Source the log holds already is not appended
// again: Append returns the receipt of the record that holds it.
func (l *Log) Append(ctx context.Context, e Event) (Receipt, error) {
	if err := e.check(); err != nil {
		return Receipt{}, fmt.Errorf("append audit event: %w", err)
	}
	now := l.opts.Clock().UTC()
	details, digest, err := l.details(e.Details, now)
	if err != nil {
		return Receipt{}, fmt.Errorf("append audit event: %w", err)
	}
	p := &pending{
		rec:     Record{Version: recordVersion, Time: now, Actor: e.Actor, Action: e.Action, Subject: e.Subject, Details: digest, Source: e.Source},
		details: details,
		done:    make(chan struct{}),
	}
	if err := ctx.Err(); err != nil {
		return Receipt{}, fmt.Errorf("append audit event: %w", err)
	}
	l.mu.Lock()
	l.queue = append(l.queue, p)
	if !l.draining {
		l.draining = true
		go l.drain()
	}
	l.mu.Unlock()
	<-p.done // bounded by one store commit; not abandoned, so the caller learns the outcome
	if p.err != nil {
		return Receipt{}, fmt.Errorf("append audit event: %w", p.err)
	}
	return p.receipt, nil
}

// drain commits the queue, in batches of what arrived while the previous
// commit ran (group commit: one transaction and one fsync per batch), and
// ends when the queue is empty.
func (l *Log) drain() {
	for {
		l.mu.Lock()
		n := min(len(l.queue), maxBatch)
		if n == 0 {
			l.draining = false
			l.mu.Unlock()
			return
		}
		batch := l.queue[:n:n]
		l.queue = l.queue[n:]
		l.mu.Unlock()
		l.commit(batch)
	}
}

// commit commits batch. When the store refuses it because a record of one
// of its sources exists (another process copied the same event: a
// catch-up racing the original append), the events already recorded get
// the receipts of their records and the rest are committed again.
func (l *Log) commit(batch []*pending) {
	// Events of one source queued together: the first is committed, the
	// others get its outcome.
	type dup struct{ p, of *pending }
	var dups []dup
	first := map[string]*pending{}
	uniq := batch[:0:0]
	for _, p := range batch {
		if p.rec.Source != "" {
			if f, ok := first[p.rec.Source]; ok {
				dups = append(dups, dup{p, f})
				continue
			}
			first[p.rec.Source] = p
		}
		uniq = append(uniq, p)
	}
	defer func() {
		for _, d := range dups {
			<-d.of.done
			d.p.receipt, d.p.err = d.of.receipt, d.of.err
			close(d.p.done)
		}
	}()
	batch = uniq
	for range len(batch) + 1 {
		err := l.commitOnce(batch)
		if !errors.Is(err, store.ErrDuplicate) {
			return
		}
		batch, err = l.settleRecorded(batch)
		if err != nil || len(batch) == 0 {
			for _, p := range batch {
				p.err = err
				close(p.done)
			}
			return
		}
	}
	for _, p := range batch {
		p.err = fmt.Errorf("records of the batch's sources keep appearing: %w", store.ErrConflict)
		close(p.done)
	}
}

// settleRecorded completes the events of batch whose source the log
// holds, with their records' receipts, and returns the others.
func (l *Log) settleRecorded(batch []*pending) ([]*pending, error) {
	var sources []string
	for _, p := range batch {
		if p.rec.Source != "" {
			sources = append(sources, p.rec.Source)
		}
	}
	have, err := l.Recorded(context.Background(), sources)
	if err != nil {
		return batch, err
	}
	rest := batch[:0:0]
	for _, p := range batch {
		idx, ok := have[p.rec.Source]
		if p.rec.Source == "" || !ok {
			rest = append(rest, p)
			continue
		}
		e, err := l.st.AuditEntry(context.Background(), idx)
		if err != nil {
			p.err = err
		} else {
			p.receipt = Receipt{Index: idx, LeafHash: LeafHash(e.Record), Record: e.Record}
		}
		close(p.done)
	}
	return rest, nil
}

// Recorded returns the indexes of the records of those of sources that
// the log holds.
func (l *Log) Recorded(ctx context.Context, sources []string) (map[string]uint64, error) {
	out := make(map[string]uint64, len(sources))
	for len(sources) > 0 {
		n := min(len(sources), 1000)
		m, err := l.st.AuditSourceIndexes(ctx, sources[:n])
		if err != nil {
			return nil, fmt.Errorf("audit sources: %w", err)
		}
		maps.Copy(out, m)
		sources = sources[n:]
	}
	return out, nil
}

// commitOnce commits batch in one transaction; on ErrDuplicate it leaves
// the batch's events pending.
func (l *Log) commitOnce(batch []*pending) error {
	start := time.Now()
	as, err := l.st.AppendAudit(context.Background(), func(head store.AuditHead) ([]store.AuditAppend, error) {
		out := make([]store.AuditAppend, 0, len(batch))
		for _, p := range batch {
			rec := p.rec
			rec.Index = head.Size
			a, err := buildAppend(head, rec, p.details)
			if err != nil {
				return nil, err
			}
			a.Entry.Source = rec.Source
			out = append(out, a)
			head = a.Head
		}
		return out, nil
	})
	if err == nil && l.opts.OnCommit != nil {
		actions := make([]string, len(batch))
		for i, p := range batch {
			actions[i] = p.rec.Action
		}
		l.opts.OnCommit(actions, time.Since(start))
	}
	if errors.Is(err, store.ErrDuplicate) {
		return err
	}
	for i, p := range batch {
		if err != nil {
			p.err = err
		} else {
			a := as[i]
			p.receipt = Receipt{Index: a.Entry.Index, LeafHash: a.Nodes[0].Hash, Record: a.Entry.Record}
		}
		close(p.done)
	}
	return err
}

func (l *Log) details(v any, now time.Time) (*store.AuditDetails, string, error) {
	if v == nil {
		return nil, "", nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, "", fmt.Errorf("%w: details: %w", ErrBadEvent, err)
	}
	if len(data) > MaxDetailsLen {
		return nil, "", fmt.Errorf("%w: details longer than %d bytes", ErrBadEvent, MaxDetailsLen)
	}
	salt := make([]byte, 32)
	if _, err := io.ReadFull(l.opts.Rand, salt); err != nil {
		return nil, "", fmt.Errorf("details salt: %w", err)
	}
	d := &store.AuditDetails{Salt: salt, Data: data, RetainUntil: now.Add(l.opts.Retention)}
	return d, DetailsDigest(salt, data), nil
}

// buildAppend computes what appending rec to the tree of head writes.
func buildAppend(head store.AuditHead, rec Record, details *store.AuditDetails) (store.AuditAppend, error) {
	enc, err := rec.Marshal()
	if err != nil {
		return store.AuditAppend{}, err
	}
	r, err := rangeFactory.NewRange(0, head.Size, head.Frontier)
	if err != nil {
		return store.AuditAppend{}, fmt.Errorf("log head: %w", err)
	}
	var nodes []store.AuditNode
	visit := func(id compact.NodeID, h []byte) {
		nodes = append(nodes, store.AuditNode{AuditNodeID: nodeID(id), Hash: h})
	}
	if err := r.Append(LeafHash(enc), visit); err != nil {
		return store.AuditAppend{}, fmt.Errorf("append leaf: %w", err)
	}
	return store.AuditAppend{
		Entry: store.AuditEntry{Index: rec.Index, Record: enc, Details: details},
		Nodes: nodes,
		Head:  store.AuditHead{Size: r.End(), Frontier: r.Hashes()},
	}, nil
}

func nodeID(id compact.NodeID) store.AuditNodeID {
	return store.AuditNodeID{Level: uint8(id.Level), Index: id.Index}
}

// Entry returns the stored record at index with its details (nil when
// none or purged).
func (l *Log) Entry(ctx context.Context, index uint64) (Record, *store.AuditDetails, error) {
	e, err := l.st.AuditEntry(ctx, index)
	if err != nil {
		return Record{}, nil, fmt.Errorf("audit entry: %w", err)
	}
	r, err := ParseRecord(e.Record)
	if err != nil {
		return Record{}, nil, fmt.Errorf("audit entry %d: %w", index, err)
	}
	return r, e.Details, nil
}

// PurgeDetails deletes the details whose retention has ended, in batches,
// and reports how many it deleted.
func (l *Log) PurgeDetails(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := l.st.PurgeAuditDetails(ctx, l.opts.Clock(), 1000)
		total += n
		if err != nil || n < 1000 {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
