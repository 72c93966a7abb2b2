package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	p11 "github.com/miekg/pkcs11"

	"github.com/thiqa/thiqa/hsm"
)

// blobMagic starts every blob wrapped by this backend; the version is its
// last byte.
var blobMagic = []byte("TQPK\x01")

const (
	tagSize    = 32 // HMAC-SHA-256
	maxBlobLen = 8 << 10
	maxWrapped = 4 << 10
)

// blob is a wrapped citizen key:
//
//	"TQPK" 0x01 | len(kek) | kek label | len(alg) | alg |
//	len(wrapped) (2 bytes, big-endian) | wrapped | tag (32)
//
// wrapped is the PKCS #8 private key under CKM_AES_KEY_WRAP_PAD with the
// KEK; tag is HMAC-SHA-256, computed on the token with the KEK's binding
// key, over "thiqa-wrapped-key-v1" 0x00 owner 0x00 and every byte before
// the tag.
type blob struct {
	kek     string
	alg     hsm.Algorithm
	wrapped []byte
	tag     []byte
}

func (b blob) body() []byte {
	out := append([]byte{}, blobMagic...)
	out = append(out, byte(len(b.kek)))
	out = append(out, b.kek...)
	out = append(out, byte(len(b.alg)))
	out = append(out, b.alg...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b.wrapped)))
	return append(out, b.wrapped...)
}

func macInput(owner string, body []byte) []byte {
	return append([]byte("thiqa-wrapped-key-v1\x00"+owner+"\x00"), body...)
}

// parseBlob parses b strictly: every length checked, nothing left over.
func parseBlob(b []byte) (blob, []byte, error) {
	var out blob
	if len(b) > maxBlobLen || !bytes.HasPrefix(b, blobMagic) {
		return out, nil, fmt.Errorf("%w: not a PKCS #11 wrapped key", hsm.ErrBadBlob)
	}
	r := b[len(blobMagic):]
	field := func() ([]byte, bool) {
		if len(r) < 1 || len(r) < 1+int(r[0]) {
			return nil, false
		}
		f := r[1 : 1+int(r[0])]
		r = r[1+int(r[0]):]
		return f, true
	}
	kek, ok1 := field()
	alg, ok2 := field()
	if !ok1 || !ok2 || len(r) < 2 {
		return out, nil, fmt.Errorf("%w: truncated", hsm.ErrBadBlob)
	}
	n := int(binary.BigEndian.Uint16(r))
	r = r[2:]
	if n == 0 || n > maxWrapped || len(r) != n+tagSize {
		return out, nil, fmt.Errorf("%w: wrapped key length", hsm.ErrBadBlob)
	}
	out = blob{kek: string(kek), alg: hsm.Algorithm(alg), wrapped: r[:n], tag: r[n:]}
	if shapeOfAlg(out.alg) == (shape{}) {
		return out, nil, fmt.Errorf("%w: algorithm %q", hsm.ErrBadBlob, string(alg))
	}
	if _, err := parseKEKLabel(out.kek, ""); err != nil {
		return out, nil, fmt.Errorf("%w: KEK label %q", hsm.ErrBadBlob, out.kek)
	}
	return out, b[:len(b)-tagSize], nil
}

// parseKEKLabel returns the generation of a KEK label "<base>-<n>"; when
// base is empty any base is accepted.
func parseKEKLabel(label, base string) (int, error) {
	i := strings.LastIndexByte(label, '-')
	if i <= 0 || (base != "" && label[:i] != base) {
		return 0, errors.New("not a KEK label")
	}
	n, err := strconv.Atoi(label[i+1:])
	if err != nil || n < 1 || n > 1<<20 || strconv.Itoa(n) != label[i+1:] {
		return 0, errors.New("not a KEK label")
	}
	return n, nil
}

func macLabel(kek string) string { return kek + "-mac" }

// kekHandles returns the wrapping key and the binding key labelled kek.
func (s session) kekHandles(kek string) (wrap, mac p11.ObjectHandle, err error) {
	wrap, ok, err := s.find(p11.CKO_SECRET_KEY, kek)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return 0, 0, fmt.Errorf("%w: %s", ErrNoKEK, kek)
	}
	mac, ok, err = s.find(p11.CKO_SECRET_KEY, macLabel(kek))
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return 0, 0, fmt.Errorf("%w: %s has no binding key", ErrNoKEK, kek)
	}
	return wrap, mac, nil
}

// NewWrappedKey implements [hsm.WrappedCustody]: the key pair is generated
// as session objects, the private key wrapped under the current KEK with
// CKM_AES_KEY_WRAP_PAD, both objects destroyed, and the blob bound to owner
// by an HMAC computed on the token.
func (c *Custody) NewWrappedKey(ctx context.Context, owner string, alg hsm.Algorithm) ([]byte, crypto.PublicKey, error) {
	if err := hsm.CheckOwner(owner); err != nil {
		return nil, nil, err
	}
	mech, pubT, privT, err := keyPairTemplates(alg, "thiqa-citizen", false, true)
	if err != nil {
		return nil, nil, err
	}
	kek, err := c.currentKEK(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("new wrapped key: %w", err)
	}
	var out []byte
	var pub crypto.PublicKey
	err = c.do(ctx, func(s session) error {
		wrapH, macH, err := s.kekHandles(kek)
		if err != nil {
			return err
		}
		pubH, privH, err := s.ctx().GenerateKeyPair(s.h, []*p11.Mechanism{mech}, pubT, privT)
		if err != nil {
			return fmt.Errorf("generate key: %w", err)
		}
		defer s.ctx().DestroyObject(s.h, pubH)
		defer s.ctx().DestroyObject(s.h, privH)
		if pub, err = s.publicKey(pubH); err != nil {
			return err
		}
		b := blob{kek: kek, alg: alg}
		if b.wrapped, err = s.ctx().WrapKey(s.h, []*p11.Mechanism{s.cn.wrap}, wrapH, privH); err != nil {
			return fmt.Errorf("wrap key: %w", err)
		}
		if len(b.wrapped) > maxWrapped {
			return fmt.Errorf("wrap key: %d bytes", len(b.wrapped))
		}
		body := b.body()
		tag, err := s.hmac(macH, macInput(owner, body))
		if err != nil {
			return err
		}
		out = append(body, tag...)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("new wrapped key: %w", err)
	}
	return out, pub, nil
}

func (s session) hmac(macH p11.ObjectHandle, msg []byte) ([]byte, error) {
	m := []*p11.Mechanism{p11.NewMechanism(p11.CKM_SHA256_HMAC, nil)}
	if err := s.ctx().SignInit(s.h, m, macH); err != nil {
		return nil, fmt.Errorf("bind to owner: %w", err)
	}
	tag, err := s.ctx().Sign(s.h, msg)
	if err != nil {
		return nil, fmt.Errorf("bind to owner: %w", err)
	}
	return tag, nil
}

// checkOwner verifies on the token that b is bound to owner.
func (s session) checkOwner(macH p11.ObjectHandle, owner string, body, tag []byte) error {
	m := []*p11.Mechanism{p11.NewMechanism(p11.CKM_SHA256_HMAC, nil)}
	if err := s.ctx().VerifyInit(s.h, m, macH); err != nil {
		return fmt.Errorf("check owner: %w", err)
	}
	err := s.ctx().Verify(s.h, macInput(owner, body), tag)
	if rv, _ := ckr(err); rv == p11.CKR_SIGNATURE_INVALID || rv == p11.CKR_SIGNATURE_LEN_RANGE {
		return hsm.ErrWrongOwner
	}
	if err != nil {
		return fmt.Errorf("check owner: %w", err)
	}
	return nil
}

// unwrap checks that b is bound to owner and unwraps it into a session
// object, which the caller must destroy.
func (s session) unwrap(owner string, b blob, body []byte, extractable bool) (p11.ObjectHandle, error) {
	wrapH, macH, err := s.kekHandles(b.kek)
	if err != nil {
		return 0, err
	}
	if err := s.checkOwner(macH, owner, body, b.tag); err != nil {
		return 0, err
	}
	keyType := uint(p11.CKK_EC)
	if shapeOfAlg(b.alg).rsaSize > 0 {
		keyType = p11.CKK_RSA
	}
	tmpl := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, keyType),
		p11.NewAttribute(p11.CKA_TOKEN, false),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, extractable),
		p11.NewAttribute(p11.CKA_SIGN, true),
		p11.NewAttribute(p11.CKA_LABEL, "thiqa-citizen"),
	}
	h, err := s.ctx().UnwrapKey(s.h, []*p11.Mechanism{s.cn.wrap}, wrapH, b.wrapped, tmpl)
	if err != nil {
		if rv, _ := ckr(err); rv == p11.CKR_WRAPPED_KEY_INVALID || rv == p11.CKR_WRAPPED_KEY_LEN_RANGE {
			return 0, fmt.Errorf("unwrap: %w", hsm.ErrBadBlob)
		}
		return 0, fmt.Errorf("unwrap: %w", err)
	}
	return h, nil
}

// SignWithWrapped implements [hsm.WrappedCustody]: the blob's binding to
// owner is verified on the token, the key unwrapped into a session object
// that is neither extractable nor persistent, each digest signed, and the
// object destroyed.
func (c *Custody) SignWithWrapped(ctx context.Context, owner string, raw []byte, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	if err := hsm.CheckWrappedRequest(owner, digests, opts); err != nil {
		return nil, err
	}
	b, body, err := parseBlob(raw)
	if err != nil {
		return nil, err
	}
	sh := shapeOfAlg(b.alg)
	var sigs [][]byte
	err = c.do(ctx, func(s session) error {
		h, err := s.unwrap(owner, b, body, false)
		if err != nil {
			return err
		}
		defer s.ctx().DestroyObject(s.h, h)
		sigs = make([][]byte, len(digests))
		for i, d := range digests {
			if err := ctx.Err(); err != nil {
				return err
			}
			if sigs[i], err = s.sign(h, sh, d, opts); err != nil {
				return fmt.Errorf("digest %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sign with wrapped key: %w", err)
	}
	return sigs, nil
}
