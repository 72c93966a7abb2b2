package pkcs11

import (
	"context"
	"fmt"

	p11 "github.com/miekg/pkcs11"

	"github.com/thiqa/thiqa/hsm"
)

// The key-encryption key of wrapped citizen keys is a generation of two
// token objects: an AES-256 wrapping key labelled "<object>-<n>" (wrap and
// unwrap only) and an HMAC-SHA-256 binding key labelled "<object>-<n>-mac"
// (sign and verify only), both sensitive and not extractable. New keys are
// wrapped under the highest generation; older generations still unwrap the
// blobs that name them, until [Custody.Rewrap] has moved every blob on and
// the operator destroys them.

// KEKs lists the generations of key-encryption keys on the token, oldest
// first, by the label of their wrapping key.
func (c *Custody) KEKs(ctx context.Context) ([]string, error) {
	var labels []string
	err := c.do(ctx, func(s session) error {
		labels = labels[:0]
		hs, err := s.findAll([]*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
		}, maxObjects)
		if err != nil {
			return err
		}
		byGen := map[int]string{}
		for _, h := range hs {
			label, err := s.label(h)
			if err != nil {
				return err
			}
			if n, err := parseKEKLabel(label, c.cfg.KEKLabel); err == nil {
				byGen[n] = label
			}
		}
		for n := 1; len(labels) < len(byGen) && n <= 1<<20; n++ {
			if l, ok := byGen[n]; ok {
				labels = append(labels, l)
			}
		}
		return nil
	})
	return labels, err
}

// currentKEK returns the label of the newest key-encryption key.
func (c *Custody) currentKEK(ctx context.Context) (string, error) {
	labels, err := c.KEKs(ctx)
	if err != nil {
		return "", err
	}
	if len(labels) == 0 {
		return "", fmt.Errorf("%w: %s-1", ErrNoKEK, c.cfg.KEKLabel)
	}
	return labels[len(labels)-1], nil
}

// RotateKEK creates the next generation of key-encryption key on the token
// and returns its label. Keys wrapped from then on use it; existing blobs
// keep working and move to it through [Custody.Rewrap].
func (c *Custody) RotateKEK(ctx context.Context) (string, error) {
	c.genMu.Lock()
	defer c.genMu.Unlock()
	labels, err := c.KEKs(ctx)
	if err != nil {
		return "", err
	}
	n := 1
	if len(labels) > 0 {
		n, _ = parseKEKLabel(labels[len(labels)-1], c.cfg.KEKLabel)
		n++
	}
	label := fmt.Sprintf("%s-%d", c.cfg.KEKLabel, n)
	err = c.do(ctx, func(s session) error {
		if _, err := s.ctx().GenerateKey(s.h, []*p11.Mechanism{p11.NewMechanism(p11.CKM_GENERIC_SECRET_KEY_GEN, nil)},
			secretTemplate(macLabel(label), p11.CKK_GENERIC_SECRET, p11.CKA_SIGN, p11.CKA_VERIFY)); err != nil {
			return fmt.Errorf("generate binding key: %w", err)
		}
		if _, err := s.ctx().GenerateKey(s.h, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_GEN, nil)},
			secretTemplate(label, p11.CKK_AES, p11.CKA_WRAP, p11.CKA_UNWRAP)); err != nil {
			return fmt.Errorf("generate wrapping key: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("rotate KEK: %w", err)
	}
	return label, nil
}

// secretTemplate is a persistent, sensitive, non-extractable 256-bit secret
// key allowed exactly the two uses given.
func secretTemplate(label string, keyType, use1, use2 uint) []*p11.Attribute {
	t := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, keyType),
		p11.NewAttribute(p11.CKA_VALUE_LEN, 32),
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_LABEL, label),
		p11.NewAttribute(p11.CKA_ID, []byte(label)),
	}
	for _, a := range []uint{p11.CKA_WRAP, p11.CKA_UNWRAP, p11.CKA_SIGN, p11.CKA_VERIFY, p11.CKA_ENCRYPT, p11.CKA_DECRYPT, p11.CKA_DERIVE} {
		t = append(t, p11.NewAttribute(a, a == use1 || a == use2))
	}
	return t
}

// Rewrap moves a blob bound to owner to the newest key-encryption key.
// When it already uses it, Rewrap returns it unchanged with moved false, so
// that a rotation interrupted part way is resumed by running it again.
func (c *Custody) Rewrap(ctx context.Context, owner string, raw []byte) (out []byte, moved bool, err error) {
	if err := hsm.CheckOwner(owner); err != nil {
		return nil, false, err
	}
	b, body, err := parseBlob(raw)
	if err != nil {
		return nil, false, err
	}
	kek, err := c.currentKEK(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("rewrap: %w", err)
	}
	if b.kek == kek {
		return raw, false, nil
	}
	err = c.do(ctx, func(s session) error {
		h, err := s.unwrap(owner, b, body, true)
		if err != nil {
			return err
		}
		defer s.ctx().DestroyObject(s.h, h)
		wrapH, macH, err := s.kekHandles(kek)
		if err != nil {
			return err
		}
		nb := blob{kek: kek, alg: b.alg}
		if nb.wrapped, err = s.ctx().WrapKey(s.h, []*p11.Mechanism{s.cn.wrap}, wrapH, h); err != nil {
			return fmt.Errorf("wrap key: %w", err)
		}
		nbody := nb.body()
		tag, err := s.hmac(macH, macInput(owner, nbody))
		if err != nil {
			return err
		}
		out = append(nbody, tag...)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("rewrap: %w", err)
	}
	return out, true, nil
}

// WrappedRecord is one stored wrapped key, as a rotation reads and writes
// it.
type WrappedRecord struct {
	Owner string
	Blob  []byte
}

// RotationProgress counts the records a rotation has seen.
type RotationProgress struct {
	Seen, Moved, Current int
}

// RotateAll re-wraps every record that next yields under the newest
// key-encryption key, saving each moved one with save and reporting
// progress after each record. next returns ok false at the end. A rotation
// stopped part way (an error, a crash, ctx cancelled) resumes by calling
// RotateAll again: records already moved are counted as Current and left
// alone. Create the new KEK with [Custody.RotateKEK] first.
func (c *Custody) RotateAll(ctx context.Context, next func() (WrappedRecord, bool, error),
	save func(WrappedRecord) error, progress func(RotationProgress)) (RotationProgress, error) {
	var p RotationProgress
	for {
		if err := ctx.Err(); err != nil {
			return p, fmt.Errorf("rotate: %w", err)
		}
		r, ok, err := next()
		if err != nil {
			return p, fmt.Errorf("rotate: read record: %w", err)
		}
		if !ok {
			return p, nil
		}
		blob, moved, err := c.Rewrap(ctx, r.Owner, r.Blob)
		if err != nil {
			return p, fmt.Errorf("rotate: %s: %w", r.Owner, err)
		}
		p.Seen++
		if moved {
			if err := save(WrappedRecord{Owner: r.Owner, Blob: blob}); err != nil {
				return p, fmt.Errorf("rotate: save %s: %w", r.Owner, err)
			}
			p.Moved++
		} else {
			p.Current++
		}
		if progress != nil {
			progress(p)
		}
	}
}

// DestroyKEK destroys a retired generation of key-encryption key. Blobs
// still wrapped under it can no longer be used: run RotateAll to the end
// first. The newest generation cannot be destroyed.
func (c *Custody) DestroyKEK(ctx context.Context, label string) error {
	c.genMu.Lock()
	defer c.genMu.Unlock()
	cur, err := c.currentKEK(ctx)
	if err != nil {
		return err
	}
	if label == cur {
		return fmt.Errorf("destroy KEK %s: it is the current one", label)
	}
	if _, err := parseKEKLabel(label, c.cfg.KEKLabel); err != nil {
		return fmt.Errorf("destroy KEK %s: %w", label, err)
	}
	return c.do(ctx, func(s session) error {
		for _, l := range []string{label, macLabel(label)} {
			h, ok, err := s.find(p11.CKO_SECRET_KEY, l)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := s.ctx().DestroyObject(s.h, h); err != nil {
				return fmt.Errorf("destroy KEK %s: %w", l, err)
			}
			s.cn.forget(l)
		}
		return nil
	})
}
