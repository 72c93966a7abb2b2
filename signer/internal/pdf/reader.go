package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Limits bounds the work and memory the reader spends on one file. The zero
// value selects the defaults.
type Limits struct {
	MaxObjects     int   // xref entries; default 4,000,000
	MaxObjectSize  int   // bytes of one object's syntax (not stream data); default 16 MiB
	MaxDecodedSize int   // bytes of one decoded stream read with StreamData; default 64 MiB
	MaxIndexSize   int   // bytes of one decoded xref stream or object stream; default 8 MiB
	MaxXrefChain   int   // xref sections followed through /Prev; default 4096
	MaxDepth       int   // indirect references followed to reach one object; default 32
	MaxPages       int   // leaves of the page tree; default 1,000,000
	_              int64 // reserved
}

func (l Limits) withDefaults() Limits {
	if l.MaxObjects <= 0 {
		l.MaxObjects = 4_000_000
	}
	if l.MaxObjectSize <= 0 {
		l.MaxObjectSize = 16 << 20
	}
	if l.MaxDecodedSize <= 0 {
		l.MaxDecodedSize = 64 << 20
	}
	if l.MaxIndexSize <= 0 {
		l.MaxIndexSize = 8 << 20
	}
	if l.MaxXrefChain <= 0 {
		l.MaxXrefChain = 4096
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 32
	}
	if l.MaxPages <= 0 {
		l.MaxPages = 1_000_000
	}
	return l
}

// Options configures [Open]. The zero value is safe.
type Options struct {
	Limits Limits
	// NoRecover makes Open fail instead of rebuilding a broken xref by
	// scanning the file for "N G obj".
	NoRecover bool
	// Rebuild makes Open rebuild the xref by scanning even when the
	// file's cross-reference sections read, for a file whose xref entries
	// point at the wrong objects (viewers rebuild such files too).
	Rebuild bool
	// Cache, when set, keeps the objects this reader parses from the
	// file and serves them again, to this reader and to every reader
	// given the same Cache. Share one only between readers of the same
	// bytes (the revisions of one file, each a prefix of the next). Cached
	// objects are shared: callers must not modify them.
	Cache *Cache
}

// XrefKind is the kind of the newest cross-reference section.
type XrefKind int

// Kinds of cross-reference section.
const (
	XrefTable  XrefKind = iota // classic "xref" table (also hybrid files)
	XrefStream                 // cross-reference stream (PDF 1.5)
)

type entryType uint8

const (
	entryFree entryType = iota
	entryInUse
	entryCompressed
)

// entry is one xref entry. For entryInUse, off is the file offset; for
// entryCompressed, off is the object stream number and idx the index.
type entry struct {
	typ entryType
	gen uint16
	idx uint32
	off int64
}

// Reader gives access to the objects of a PDF file. It reads the file on
// demand through an io.ReaderAt and never holds more than the objects asked
// for (and decoded object streams). It is safe for concurrent use.
type Reader struct {
	r      io.ReaderAt
	size   int64
	lim    Limits
	xref   map[uint32]entry
	trail  Dict
	kind   XrefKind
	start  int64 // offset of the newest xref section (startxref)
	header string
	recov  bool
	secs   []int64 // offsets of the xref sections, newest first

	mu     sync.Mutex
	objstm map[uint32]*objStream
	cache  *Cache
}

// Open reads the trailer and cross-reference sections of the PDF in r
// (size bytes long). It refuses encrypted files with [ErrEncrypted].
func Open(r io.ReaderAt, size int64, opts *Options) (*Reader, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	rd := &Reader{r: r, size: size, lim: o.Limits.withDefaults(), xref: map[uint32]entry{}, objstm: map[uint32]*objStream{}, cache: o.Cache}
	if err := rd.readHeader(); err != nil {
		return nil, err
	}
	var err error
	if o.Rebuild {
		err = fmt.Errorf("%w: xref rebuild asked for", ErrMalformed)
	} else {
		err = rd.readXref()
	}
	if err != nil {
		if o.NoRecover || errors.Is(err, ErrEncrypted) || errors.Is(err, ErrLimit) {
			return nil, err
		}
		rd.xref = map[uint32]entry{}
		rd.objstm = map[uint32]*objStream{}
		if rerr := rd.recover(); rerr != nil {
			return nil, fmt.Errorf("%w (%v)", rerr, err)
		}
		rd.recov = true
	}
	if _, ok := rd.trail["Encrypt"]; ok {
		return nil, ErrEncrypted
	}
	root, ok := rd.trail["Root"].(Ref)
	if !ok {
		return nil, fmt.Errorf("%w: trailer has no /Root reference", ErrMalformed)
	}
	cat, err := rd.GetDict(root)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	if cat == nil {
		return nil, fmt.Errorf("%w: catalog %v is not a dictionary", ErrMalformed, root)
	}
	return rd, nil
}

// Size returns the file size given to Open.
func (rd *Reader) Size() int64 { return rd.size }

// ReaderAt returns the underlying input.
func (rd *Reader) ReaderAt() io.ReaderAt { return rd.r }

// Trailer returns the newest trailer dictionary (for an xref stream, its
// dictionary). Callers must not modify it.
func (rd *Reader) Trailer() Dict { return rd.trail }

// XrefKind reports whether the newest xref section is a table or a stream.
func (rd *Reader) XrefKind() XrefKind { return rd.kind }

// StartXref returns the offset of the newest xref section, the value an
// incremental update puts in /Prev.
func (rd *Reader) StartXref() int64 { return rd.start }

// Recovered reports whether the xref was rebuilt by scanning the file.
func (rd *Reader) Recovered() bool { return rd.recov }

// Header returns the version from the "%PDF-x.y" header, such as "1.7".
func (rd *Reader) Header() string { return rd.header }

// XrefSections returns the offsets of the xref sections followed from
// startxref through /Prev, newest first (empty after recovery).
func (rd *Reader) XrefSections() []int64 { return append([]int64(nil), rd.secs...) }

// MaxObjectNumber returns the highest object number in the xref plus one,
// or /Size if that is larger.
func (rd *Reader) MaxObjectNumber() uint32 {
	var n uint32
	for k := range rd.xref {
		if k+1 > n {
			n = k + 1
		}
	}
	if s, ok := AsInt(rd.trail["Size"]); ok && s > int64(n) && s <= int64(rd.lim.MaxObjects) {
		n = uint32(s)
	}
	return n
}

// Root returns the catalog reference.
func (rd *Reader) Root() Ref { r, _ := rd.trail["Root"].(Ref); return r }

// Catalog returns the document catalog.
func (rd *Reader) Catalog() (Dict, error) { return rd.GetDict(rd.Root()) }

// ObjectNumbers returns every in-use object number of the xref.
func (rd *Reader) ObjectNumbers() []uint32 {
	out := make([]uint32, 0, len(rd.xref))
	for k, e := range rd.xref {
		if e.typ != entryFree {
			out = append(out, k)
		}
	}
	return out
}

func (rd *Reader) readHeader() error {
	n := int64(1024)
	if rd.size < n {
		n = rd.size
	}
	buf := make([]byte, n)
	if _, err := rd.r.ReadAt(buf, 0); err != nil && err != io.EOF {
		return fmt.Errorf("read header: %w", err)
	}
	i := bytes.Index(buf, []byte("%PDF-"))
	if i < 0 {
		return ErrNotPDF
	}
	v := buf[i+5:]
	j := 0
	for j < len(v) && j < 4 && (v[j] == '.' || (v[j] >= '0' && v[j] <= '9')) {
		j++
	}
	rd.header = string(v[:j])
	return nil
}

// readAt returns up to n bytes at off (fewer at the end of the file).
func (rd *Reader) readAt(off int64, n int) ([]byte, error) {
	if off < 0 || off >= rd.size {
		return nil, fmt.Errorf("%w: offset %d outside the file", ErrMalformed, off)
	}
	if int64(n) > rd.size-off {
		n = int(rd.size - off)
	}
	buf := make([]byte, n)
	m, err := rd.r.ReadAt(buf, off)
	if m < n {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read at %d: %w", off, err)
	}
	return buf, nil
}

// parseAt runs f on a window of the file at off, growing the window while f
// runs off its end, up to MaxObjectSize.
func (rd *Reader) parseAt(off int64, f func(p *parser) error) error {
	n := 1024
	for {
		buf, err := rd.readAt(off, n)
		if err != nil {
			return err
		}
		p := &parser{b: buf, eof: off+int64(len(buf)) >= rd.size}
		err = f(p)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errShort) {
			if errors.Is(err, ErrLimit) || errors.Is(err, ErrMalformed) || errors.Is(err, ErrEncrypted) || errors.Is(err, ErrUnsupported) {
				return err
			}
			return fmt.Errorf("%w: at %d: %v", ErrMalformed, off, err)
		}
		if p.eof {
			return fmt.Errorf("%w: object at %d runs past the end of the file", ErrMalformed, off)
		}
		if n >= rd.lim.MaxObjectSize {
			return fmt.Errorf("%w: object at %d larger than %d bytes", ErrLimit, off, rd.lim.MaxObjectSize)
		}
		n *= 4
		if n > rd.lim.MaxObjectSize {
			n = rd.lim.MaxObjectSize
		}
	}
}
