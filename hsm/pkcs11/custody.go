package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"

	"github.com/thiqa/thiqa/hsm"
)

// Custody is key custody on a PKCS#11 token. It implements [hsm.Custody]
// for keys resident on the token and [hsm.WrappedCustody] for keys wrapped
// under the token's key-encryption key. It is safe for concurrent use.
type Custody struct {
	cfg  Config
	opts Options
	mod  *module

	mu     sync.Mutex // guards conn, closed, keys
	conn   *conn
	closed bool
	keys   map[hsm.KeyID]*key

	genMu sync.Mutex // serialises key and KEK generation
}

var (
	_ hsm.Custody        = (*Custody)(nil)
	_ hsm.WrappedCustody = (*Custody)(nil)
)

// Options are optional settings of [Open]; the zero value is safe.
type Options struct {
	// CreateKEK creates the first key-encryption key when the token holds
	// none (the key ceremony sets it; serving never does).
	CreateKEK bool
}

// conn is one login to the token: a slot, a pool of sessions, and the
// object handles found through it. A lost connection is replaced whole.
type conn struct {
	mod    *module
	modGen uint64
	slot   uint
	sem    chan struct{}
	idle   chan p11.SessionHandle
	wrap   *p11.Mechanism

	mu      sync.Mutex
	handles map[string]p11.ObjectHandle // by class and label
}

// Open loads the module named by cfg, finds the token, logs in and checks
// the mechanisms the backend needs. Close releases it.
func Open(ctx context.Context, cfg Config, opts *Options) (*Custody, error) {
	if cfg.KEKLabel == "" {
		cfg.KEKLabel = "thiqa-kek"
	}
	mod, err := loadModule(cfg.ModulePath)
	if err != nil {
		return nil, err
	}
	c := &Custody{cfg: cfg, mod: mod, keys: map[hsm.KeyID]*key{}}
	if opts != nil {
		c.opts = *opts
	}
	cn, err := c.connectLocked()
	if errors.Is(err, ErrTokenNotFound) {
		// The library may have been initialised before the token was
		// created: look again once with a fresh view.
		if err = mod.reset(mod.generation()); err == nil {
			cn, err = c.connectLocked()
		}
	}
	if err != nil {
		mod.release()
		return nil, fmt.Errorf("open pkcs11 custody: %w", err)
	}
	c.conn = cn
	if c.opts.CreateKEK {
		_, err := c.currentKEK(ctx)
		if errors.Is(err, ErrNoKEK) {
			_, err = c.RotateKEK(ctx)
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("open pkcs11 custody: %w", err)
		}
	}
	return c, nil
}

// OpenURI parses uri with [ParseURI] and opens it.
func OpenURI(ctx context.Context, uri string, opts *Options) (*Custody, error) {
	cfg, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	return Open(ctx, cfg, opts)
}

// Close closes the sessions and releases the module. Keys obtained from the
// custody stop working.
func (c *Custody) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.conn != nil {
		c.conn.close()
		c.conn = nil
	}
	c.mod.release()
	return nil
}

// connectLocked is connect with the module held against resets.
func (c *Custody) connectLocked() (*conn, error) {
	c.mod.use.RLock()
	defer c.mod.use.RUnlock()
	return c.connect()
}

// connect finds the token, opens a first session and logs in.
func (c *Custody) connect() (*conn, error) {
	modGen := c.mod.generation()
	slot, info, err := c.findToken()
	if err != nil {
		return nil, err
	}
	size := DefaultMaxSessions
	if max := info.MaxRwSessionCount; max > 0 && max < uint(size) && max != p11.CK_EFFECTIVELY_INFINITE && max != p11.CK_UNAVAILABLE_INFORMATION {
		size = int(max)
	}
	if c.cfg.MaxSessions > 0 && c.cfg.MaxSessions < size {
		size = c.cfg.MaxSessions
	}
	wrap, err := c.wrapMechanism(slot)
	if err != nil {
		return nil, err
	}
	cn := &conn{mod: c.mod, modGen: modGen, slot: slot, sem: make(chan struct{}, size),
		idle: make(chan p11.SessionHandle, size), wrap: wrap, handles: map[string]p11.ObjectHandle{}}
	sh, err := c.mod.ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	if err := c.mod.ctx.Login(sh, p11.CKU_USER, c.cfg.PIN); err != nil {
		c.mod.ctx.CloseSession(sh)
		rv, _ := ckr(err)
		switch rv {
		case p11.CKR_USER_ALREADY_LOGGED_IN:
		case p11.CKR_PIN_INCORRECT, p11.CKR_PIN_LEN_RANGE, p11.CKR_PIN_INVALID:
			return nil, fmt.Errorf("log in to token %q: %w", c.cfg.Token, ErrWrongPIN)
		case p11.CKR_PIN_LOCKED:
			return nil, fmt.Errorf("log in to token %q: %w", c.cfg.Token, ErrPINLocked)
		default:
			return nil, fmt.Errorf("log in to token %q: %w", c.cfg.Token, err)
		}
		if sh, err = c.mod.ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION); err != nil {
			return nil, fmt.Errorf("open session: %w", err)
		}
	}
	cn.idle <- sh
	return cn, nil
}

// findToken returns the slot holding the configured token.
func (c *Custody) findToken() (uint, p11.TokenInfo, error) {
	slots, err := c.mod.ctx.GetSlotList(true)
	if err != nil {
		return 0, p11.TokenInfo{}, fmt.Errorf("list slots: %w", err)
	}
	for _, s := range slots {
		info, err := c.mod.ctx.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if strings.TrimRight(info.Label, " \x00") != c.cfg.Token {
			continue
		}
		if c.cfg.Serial != "" && strings.TrimRight(info.SerialNumber, " \x00") != c.cfg.Serial {
			continue
		}
		if info.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		return s, info, nil
	}
	return 0, p11.TokenInfo{}, fmt.Errorf("%w: label %q", ErrTokenNotFound, c.cfg.Token)
}

// wrapMechanism picks the key-wrapping mechanism: AES key wrap with padding
// (RFC 5649), which the backend requires.
func (c *Custody) wrapMechanism(slot uint) (*p11.Mechanism, error) {
	mechs, err := c.mod.ctx.GetMechanismList(slot)
	if err != nil {
		return nil, fmt.Errorf("list mechanisms: %w", err)
	}
	need := map[uint]string{
		p11.CKM_AES_KEY_WRAP_PAD: "CKM_AES_KEY_WRAP_PAD", p11.CKM_SHA256_HMAC: "CKM_SHA256_HMAC",
		p11.CKM_ECDSA: "CKM_ECDSA", p11.CKM_EC_KEY_PAIR_GEN: "CKM_EC_KEY_PAIR_GEN",
	}
	for _, m := range mechs {
		delete(need, m.Mechanism)
	}
	for _, name := range need {
		return nil, fmt.Errorf("%w: %s", ErrMechanism, name)
	}
	return p11.NewMechanism(p11.CKM_AES_KEY_WRAP_PAD, nil), nil
}

func (cn *conn) close() {
	for {
		select {
		case sh := <-cn.idle:
			cn.mod.ctx.CloseSession(sh)
		default:
			return
		}
	}
}

// session is a session borrowed from a connection's pool.
type session struct {
	cn *conn
	h  p11.SessionHandle
}

func (s session) ctx() *p11.Ctx { return s.cn.mod.ctx }

// acquire borrows a session, waiting for one when the pool is full.
func (cn *conn) acquire(ctx context.Context) (session, error) {
	select {
	case cn.sem <- struct{}{}:
	case <-ctx.Done():
		return session{}, ctx.Err()
	}
	select {
	case sh := <-cn.idle:
		return session{cn, sh}, nil
	default:
	}
	sh, err := cn.mod.ctx.OpenSession(cn.slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		<-cn.sem
		return session{}, fmt.Errorf("open session: %w", err)
	}
	return session{cn, sh}, nil
}

// release returns s to the pool, or closes it after an error that may have
// left it unusable.
func (cn *conn) release(s session, err error) {
	if err != nil && connectionLost(err) {
		cn.mod.ctx.CloseSession(s.h)
	} else {
		cn.idle <- s.h
	}
	<-cn.sem
}

// current returns the live connection, connecting again when the last one
// was lost.
func (c *Custody) current() (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.conn != nil {
		return c.conn, nil
	}
	cn, err := c.connectLocked()
	if errors.Is(err, ErrTokenNotFound) {
		// A token inserted or initialised since the module was
		// initialised is not visible to every library until it is
		// initialised again.
		if err = c.mod.reset(c.mod.generation()); err == nil {
			cn, err = c.connectLocked()
		}
	}
	if err != nil {
		return nil, err
	}
	c.conn = cn
	return cn, nil
}

// lost drops cn after an error that says the token or session went away,
// and resets the module once so that the next operation sees the token as
// it is now.
func (c *Custody) lost(cn *conn) {
	c.mu.Lock()
	if c.conn == cn {
		c.conn = nil
		clear(c.keys)
	}
	c.mu.Unlock()
	cn.close()
	c.mod.reset(cn.modGen)
}

// do runs fn with a pooled session. When fn fails because the connection
// was lost, do reconnects and runs it once more.
func (c *Custody) do(ctx context.Context, fn func(s session) error) error {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var cn *conn
		if cn, err = c.current(); err != nil {
			return err
		}
		err = c.with(ctx, cn, fn)
		if err == nil || !connectionLost(err) {
			return err
		}
		c.lost(cn)
	}
	return err
}

// with runs fn with a session of cn, holding the module against resets.
func (c *Custody) with(ctx context.Context, cn *conn, fn func(s session) error) error {
	c.mod.use.RLock()
	defer c.mod.use.RUnlock()
	s, err := cn.acquire(ctx)
	if err != nil {
		return err
	}
	err = fn(s)
	cn.release(s, err)
	return err
}

// find returns the handle of the one object of class with label, caching
// it for the connection's life; ok is false when there is none.
func (s session) find(class uint, label string) (p11.ObjectHandle, bool, error) {
	k := fmt.Sprintf("%d/%s", class, label)
	s.cn.mu.Lock()
	h, ok := s.cn.handles[k]
	s.cn.mu.Unlock()
	if ok {
		return h, true, nil
	}
	hs, err := s.findAll([]*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, class),
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_LABEL, label),
	}, 2)
	if err != nil || len(hs) == 0 {
		return 0, false, err
	}
	if len(hs) > 1 {
		return 0, false, fmt.Errorf("find %s: more than one object with this label", label)
	}
	s.cn.mu.Lock()
	s.cn.handles[k] = hs[0]
	s.cn.mu.Unlock()
	return hs[0], true, nil
}

// forget drops cached handles of label.
func (cn *conn) forget(label string) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	for k := range cn.handles {
		if _, l, _ := strings.Cut(k, "/"); l == label {
			delete(cn.handles, k)
		}
	}
}

// maxObjects bounds every object search.
const maxObjects = 1 << 16

// findAll returns up to max objects matching tmpl.
func (s session) findAll(tmpl []*p11.Attribute, max int) ([]p11.ObjectHandle, error) {
	if err := s.ctx().FindObjectsInit(s.h, tmpl); err != nil {
		return nil, fmt.Errorf("find objects: %w", err)
	}
	defer s.ctx().FindObjectsFinal(s.h)
	var out []p11.ObjectHandle
	for len(out) < max {
		hs, _, err := s.ctx().FindObjects(s.h, min(256, max-len(out)))
		if err != nil {
			return nil, fmt.Errorf("find objects: %w", err)
		}
		if len(hs) == 0 {
			break
		}
		out = append(out, hs...)
	}
	return out, nil
}
