package pkcs11

import (
	"errors"
	"fmt"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// A PKCS#11 library is initialised once per process (C_Initialize is
// process-wide by the standard), so every Custody opened on the same module
// path shares one module. This registry is the package's only global state.
var (
	modulesMu sync.Mutex
	modules   = map[string]*module{}
)

// module is one loaded PKCS#11 library with a reference count.
type module struct {
	path string
	ctx  *p11.Ctx
	refs int

	mu  sync.Mutex
	gen uint64 // incremented by each reset

	// use is held for reading by every call into the library and for
	// writing by reset, so that C_Finalize never runs under a call in
	// flight on another goroutine.
	use sync.RWMutex
}

// loadModule loads and initialises the library at path, or shares the one
// already loaded.
func loadModule(path string) (*module, error) {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m, ok := modules[path]; ok {
		m.refs++
		return m, nil
	}
	ctx := p11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("%w: cannot load %s", ErrModule, path)
	}
	if err := ctx.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		ctx.Destroy()
		return nil, fmt.Errorf("%w: initialise %s: %v", ErrModule, path, err)
	}
	m := &module{path: path, ctx: ctx, refs: 1}
	modules[path] = m
	return m, nil
}

// release drops one reference, finalising the library with the last.
func (m *module) release() {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules, m.path)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ctx.Finalize()
	m.ctx.Destroy()
}

// generation returns the number of resets so far.
func (m *module) generation() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gen
}

// reset finalises and initialises the library again, so that it sees a
// token that was removed, replaced or re-initialised. It does nothing when
// another caller has reset it since generation seen, so that every user of
// the module recovering from the same event resets it once.
func (m *module) reset(seen uint64) error {
	m.use.Lock()
	defer m.use.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen != seen {
		return nil
	}
	m.gen++
	m.ctx.Finalize()
	if err := m.ctx.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return fmt.Errorf("%w: initialise %s again: %v", ErrModule, m.path, err)
	}
	return nil
}
