package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/hsm/pkcs11"
	"github.com/thiqa/thiqa/internal/metrics"
	"github.com/thiqa/thiqa/store"
)

// RotateOptions tune [RotateKEK]; the zero value is usable.
type RotateOptions struct {
	// Operator names who rotates, in the event trail.
	Operator string
	// Resume (PKCS#11) re-wraps under the token's newest key-encryption
	// key without making another generation first.
	Resume bool
	// DestroyOld (PKCS#11) destroys the older generations once every
	// citizen key and sealed secret is under the newest.
	DestroyOld bool
	// Progress is told the counts after each page of identities.
	Progress func(enrollment.RewrapProgress)
}

// RotateReport says what [RotateKEK] did.
type RotateReport struct {
	// KEK is the new key-encryption key: its file (software) or label
	// (PKCS#11). OldKEK and OldKeys are where the software backend's
	// previous KEK and key directory are kept until the operator destroys
	// them.
	KEK, OldKEK, OldKeys string
	// Keys counts the custody keys re-sealed (software).
	Keys int
	// Rewrap counts the citizens' keys and officers' secrets.
	Rewrap enrollment.RewrapProgress
	// Destroyed lists the PKCS#11 generations destroyed.
	Destroyed []string
}

// ErrRotating means a software key-encryption key rotation was started and
// not finished: the node opens only once `thiqa hsm rotate-kek` has run to
// the end.
var ErrRotating = errors.New("a key-encryption key rotation is in progress: run thiqa hsm rotate-kek again to finish it")

// rotationPaths are the files of a software rotation: the KEK and key
// directory in use, the next ones being made, and the previous ones kept
// after the switch.
type rotationPaths struct {
	kek, kekNext, kekOld    string
	keys, keysNext, keysOld string
}

func softwarePaths(opts Options) rotationPaths {
	kek := opts.KEKFile
	if kek == "" {
		kek = filepath.Join(opts.Dir, "kek")
	}
	keys := filepath.Join(opts.Dir, "keys")
	return rotationPaths{kek: kek, kekNext: kek + ".next", kekOld: kek + ".old", keys: keys, keysNext: keys + ".next", keysOld: keys + ".old"}
}

// rotating reports ErrRotating when a software rotation is under way.
func rotating(opts Options) error {
	if opts.KEK != "" || opts.HSM != "" {
		return nil
	}
	if exists(softwarePaths(opts).kekNext) {
		return ErrRotating
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// RotateKEK moves the node's keys to a new key-encryption key. The node
// must be stopped (the embedded store is locked by thiqa serve; with
// PostgreSQL and software keys every replica shares the KEK, so stop them
// all).
//
// Software backend: a new KEK is written beside the old one (kek.next),
// every custody key is re-sealed under it into keys.next, every citizen's
// wrapped key and officer's sealed TOTP secret in the store is moved to
// it, and then keys and KEK are switched by renames, the previous ones
// kept as keys.old and kek.old until the operator destroys them. Until the
// switch the node refuses to open ([ErrRotating]); running RotateKEK again
// resumes a rotation stopped at any point.
//
// PKCS#11: the token makes the next KEK generation, every blob and sealed
// secret is moved to it, and with DestroyOld the older generations are
// destroyed; the node keeps working throughout, since blobs name their
// generation.
func RotateKEK(ctx context.Context, opts Options, ro RotateOptions) (RotateReport, error) {
	if opts.Dir == "" {
		return RotateReport{}, errors.New("rotate KEK: no data directory")
	}
	if _, err := os.Stat(opts.Dir); err != nil {
		return RotateReport{}, fmt.Errorf("rotate KEK: %w", err)
	}
	if ro.Operator == "" {
		ro.Operator = "cli"
	}
	if opts.HSM != "" {
		return rotateToken(ctx, opts, ro)
	}
	if opts.KEK != "" {
		return RotateReport{}, errors.New("rotate KEK: the KEK is given in THIQA_KEK: write it to a file given with --kek-file, so that the new one can be written beside it")
	}
	return rotateSoftware(ctx, opts, ro)
}

func rotateSoftware(ctx context.Context, opts Options, ro RotateOptions) (RotateReport, error) {
	p := softwarePaths(opts)
	rep := RotateReport{KEK: p.kek, OldKEK: p.kekOld, OldKeys: p.keysOld}
	if exists(p.kekNext) && exists(p.keysOld) {
		// Stopped while switching: everything is moved, finish.
		return rep, switchKEK(p)
	}
	if exists(p.kekOld) || exists(p.keysOld) {
		return rep, fmt.Errorf("rotate KEK: %s or %s of an earlier rotation exists: once that rotation is checked and backed up, destroy them, then run again", p.kekOld, p.keysOld)
	}
	oldKEK, _, err := hsm.LoadKEK(p.kek, "", false)
	if err != nil {
		return rep, fmt.Errorf("rotate KEK: %w", err)
	}
	newKEK, _, err := hsm.LoadKEK(p.kekNext, "", true)
	if err != nil {
		return rep, fmt.Errorf("rotate KEK: %w", err)
	}
	rot, err := openRotation(p, oldKEK, newKEK)
	clear(oldKEK)
	clear(newKEK)
	if err != nil {
		return rep, err
	}
	svc, done, err := openForRotation(ctx, opts, rot.Old)
	if err != nil {
		return rep, err
	}
	defer done()
	if rep.Keys, err = rot.CopyKeys(ctx); err != nil {
		return rep, err
	}
	if rep.Rewrap, err = svc.RewrapAll(ctx, enrollment.Operator(ro.Operator), rot, ro.Progress); err != nil {
		return rep, err
	}
	done()
	return rep, switchKEK(p)
}

func openRotation(p rotationPaths, oldKEK, newKEK []byte) (hsm.SoftwareRotation, error) {
	old, err := hsm.OpenSoftware(p.keys, oldKEK, nil)
	if err != nil {
		return hsm.SoftwareRotation{}, fmt.Errorf("rotate KEK: %w", err)
	}
	next, err := hsm.OpenSoftware(p.keysNext, newKEK, nil)
	if err != nil {
		return hsm.SoftwareRotation{}, fmt.Errorf("rotate KEK: %w", err)
	}
	return hsm.SoftwareRotation{Old: old, New: next}, nil
}

// openForRotation opens the store and the enrollment service over the old
// custody, as Open would, bypassing the check that a rotation is under way.
func openForRotation(ctx context.Context, opts Options, keys *hsm.Software) (*enrollment.Service, func(), error) {
	st, err := openStore(ctx, opts)
	if errors.Is(err, store.ErrLocked) {
		return nil, nil, fmt.Errorf("rotate KEK: %w: stop thiqa serve first", ErrLocked)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("rotate KEK: %w", err)
	}
	closed := false
	done := func() {
		if !closed {
			closed = true
			st.Close()
		}
	}
	lg, err := openAudit(ctx, keys, st, opts.Clock, metrics.New())
	var authority *ca.Service
	if err == nil {
		authority, err = ca.Open(ctx, keys, st, ca.Options{Clock: opts.Clock, Audit: lg})
	}
	var svc *enrollment.Service
	if err == nil {
		svc, err = enrollment.New(st, keys, authority, enrollment.Options{Clock: opts.Clock, Audit: lg, Wrapped: keys, Sealer: keys})
	}
	if err != nil {
		done()
		return nil, nil, fmt.Errorf("rotate KEK: %w", err)
	}
	return svc, done, nil
}

// switchKEK puts the next key directory and KEK in place, keeping the
// previous ones as keys.old and kek.old. Each step is a rename and is
// skipped when done already, so a switch stopped part way is finished by
// calling it again; the node refuses to open until kek.next is gone.
func switchKEK(p rotationPaths) error {
	steps := []struct {
		from, to string
		done     func() bool
	}{
		{p.keys, p.keysOld, func() bool { return exists(p.keysOld) }},
		{p.keysNext, p.keys, func() bool { return !exists(p.keysNext) }},
		{p.kek, p.kekOld, func() bool { return exists(p.kekOld) }},
		{p.kekNext, p.kek, func() bool { return !exists(p.kekNext) }},
	}
	for _, s := range steps {
		if s.done() {
			continue
		}
		if err := os.Rename(s.from, s.to); err != nil {
			return fmt.Errorf("rotate KEK: switch: %w", err)
		}
		if err := syncDir(filepath.Dir(s.to)); err != nil {
			return fmt.Errorf("rotate KEK: switch: %w", err)
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}

// tokenRewrapper moves blobs and sealed secrets to the token's newest KEK.
type tokenRewrapper struct{ c *pkcs11.Custody }

func (t tokenRewrapper) RewrapKey(ctx context.Context, owner string, blob []byte) ([]byte, bool, error) {
	return t.c.Rewrap(ctx, owner, blob)
}

// ResealValue opens and seals again: sealing always uses the newest
// generation. Officers are few, so re-sealing the moved ones again on a
// resumed run costs nothing worth avoiding.
func (t tokenRewrapper) ResealValue(ctx context.Context, owner string, sealed []byte) ([]byte, bool, error) {
	plain, err := t.c.Open(ctx, owner, sealed)
	if err != nil {
		return nil, false, err
	}
	defer clear(plain)
	out, err := t.c.Seal(ctx, owner, plain)
	return out, err == nil, err
}

func rotateToken(ctx context.Context, opts Options, ro RotateOptions) (RotateReport, error) {
	var rep RotateReport
	n, _, err := Open(ctx, opts)
	if err != nil {
		return rep, err
	}
	defer n.Close()
	c, ok := n.Wrapped.(*pkcs11.Custody)
	if !ok {
		return rep, errors.New("rotate KEK: the node's custody is not a PKCS#11 token")
	}
	if ro.Resume {
		labels, err := c.KEKs(ctx)
		if err != nil {
			return rep, err
		}
		if len(labels) == 0 {
			return rep, fmt.Errorf("rotate KEK: %w", pkcs11.ErrNoKEK)
		}
		rep.KEK = labels[len(labels)-1]
	} else if rep.KEK, err = c.RotateKEK(ctx); err != nil {
		return rep, err
	}
	if rep.Rewrap, err = n.Enrollment.RewrapAll(ctx, enrollment.Operator(ro.Operator), tokenRewrapper{c}, ro.Progress); err != nil {
		return rep, err
	}
	if !ro.DestroyOld {
		return rep, nil
	}
	labels, err := c.KEKs(ctx)
	if err != nil {
		return rep, err
	}
	for _, l := range labels[:max(len(labels)-1, 0)] {
		if err := c.DestroyKEK(ctx, l); err != nil {
			return rep, err
		}
		rep.Destroyed = append(rep.Destroyed, l)
	}
	return rep, nil
}
