package pdf

import "sync"

// Cache holds objects parsed at fixed file offsets for [Options.Cache]:
// the bytes at an offset are the same for every reader of one file (or of
// its revisions), so an object several readers reach through the same
// xref entry is parsed once. Streams are not kept (their length may
// depend on the reader's cross-reference table and size), nor objects in
// object streams (a later revision may redefine the stream). It is safe
// for concurrent use.
type Cache struct {
	mu  sync.Mutex
	m   map[int64]cached
	max int
}

type cached struct {
	num uint32
	obj Object
	end int64 // offset after the bytes the parse looked at
}

// NewCache returns a cache that keeps at most max objects (default
// 100,000 when max <= 0).
func NewCache(max int) *Cache {
	if max <= 0 {
		max = 100_000
	}
	return &Cache{m: map[int64]cached{}, max: max}
}

// lookup returns object num parsed at off, if a reader of at least end
// bytes parsed it there.
func (c *Cache) lookup(off int64, num uint32, size int64) (Object, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[off]
	if !ok || e.num != num || e.end > size {
		return nil, false
	}
	return e.obj, true
}

// store keeps obj, parsed at off by a reader of size bytes. An object
// whose parse reached the end of that reader's bytes is not kept: a longer
// reader may see more of it.
func (c *Cache) store(off int64, num uint32, obj Object, end, size int64) {
	if c == nil || end >= size {
		return
	}
	if _, isStream := obj.(*Stream); isStream {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) < c.max {
		c.m[off] = cached{num, obj, end}
	}
}
