package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"

	p11 "github.com/miekg/pkcs11"

	"github.com/thiqa/thiqa/hsm"
)

// Object identifiers of the named curves, as CKA_EC_PARAMS holds them.
var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
)

// keyPairTemplates returns the mechanism and templates that generate a key
// pair of alg. token says whether the objects persist on the token;
// extractable whether the private key may leave it wrapped.
func keyPairTemplates(alg hsm.Algorithm, label string, token, extractable bool) (*p11.Mechanism, []*p11.Attribute, []*p11.Attribute, error) {
	pub := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, token),
		p11.NewAttribute(p11.CKA_VERIFY, true),
		p11.NewAttribute(p11.CKA_LABEL, label),
		p11.NewAttribute(p11.CKA_ID, []byte(label)),
	}
	priv := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, token),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, extractable),
		p11.NewAttribute(p11.CKA_SIGN, true),
		p11.NewAttribute(p11.CKA_LABEL, label),
		p11.NewAttribute(p11.CKA_ID, []byte(label)),
	}
	var mech *p11.Mechanism
	switch alg {
	case hsm.ECDSAP256, hsm.ECDSAP384:
		oid := oidP256
		if alg == hsm.ECDSAP384 {
			oid = oidP384
		}
		params, _ := asn1.Marshal(oid)
		pub = append(pub, p11.NewAttribute(p11.CKA_EC_PARAMS, params))
		mech = p11.NewMechanism(p11.CKM_EC_KEY_PAIR_GEN, nil)
	case hsm.RSA2048, hsm.RSA3072, hsm.RSA4096:
		bits := map[hsm.Algorithm]int{hsm.RSA2048: 2048, hsm.RSA3072: 3072, hsm.RSA4096: 4096}[alg]
		pub = append(pub, p11.NewAttribute(p11.CKA_MODULUS_BITS, bits),
			p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
		mech = p11.NewMechanism(p11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)
	default:
		return nil, nil, nil, fmt.Errorf("%w: %q", hsm.ErrBadAlgorithm, string(alg))
	}
	return mech, pub, priv, nil
}

// GenerateKey implements [hsm.Custody]: the key pair is generated on the
// token, the private key sensitive and not extractable, both objects
// labelled id.
func (c *Custody) GenerateKey(ctx context.Context, id hsm.KeyID, alg hsm.Algorithm) (hsm.Key, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	mech, pubT, privT, err := keyPairTemplates(alg, string(id), true, false)
	if err != nil {
		return nil, err
	}
	c.genMu.Lock()
	defer c.genMu.Unlock()
	var k *key
	err = c.do(ctx, func(s session) error {
		if _, ok, err := s.find(p11.CKO_PRIVATE_KEY, string(id)); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("%w: %s", hsm.ErrKeyExists, id)
		}
		pubH, _, err := s.ctx().GenerateKeyPair(s.h, []*p11.Mechanism{mech}, pubT, privT)
		if err != nil {
			return fmt.Errorf("generate key %s: %w", id, err)
		}
		pub, err := s.publicKey(pubH)
		if err != nil {
			return fmt.Errorf("generate key %s: %w", id, err)
		}
		k = &key{c: c, id: id, alg: alg, pub: pub}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.keys[id] = k
	c.mu.Unlock()
	return k, nil
}

// Key implements [hsm.Custody].
func (c *Custody) Key(ctx context.Context, id hsm.KeyID) (hsm.Key, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	k, ok := c.keys[id]
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	err := c.do(ctx, func(s session) error {
		if _, ok, err := s.find(p11.CKO_PRIVATE_KEY, string(id)); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: %s", hsm.ErrKeyNotFound, id)
		}
		pubH, ok, err := s.find(p11.CKO_PUBLIC_KEY, string(id))
		if err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: %s: no public key object", hsm.ErrKeyNotFound, id)
		}
		pub, err := s.publicKey(pubH)
		if err != nil {
			return fmt.Errorf("read key %s: %w", id, err)
		}
		alg := algorithmOf(pub)
		if alg == "" {
			return fmt.Errorf("read key %s: %w: %T", id, hsm.ErrBadAlgorithm, pub)
		}
		k = &key{c: c, id: id, alg: alg, pub: pub}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.keys[id] = k
	c.mu.Unlock()
	return k, nil
}

// Keys implements [hsm.Custody]: the labels of the private keys on the
// token that are well-formed key identifiers.
func (c *Custody) Keys(ctx context.Context) ([]hsm.KeyID, error) {
	var ids []hsm.KeyID
	err := c.do(ctx, func(s session) error {
		ids = ids[:0]
		hs, err := s.findAll([]*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
			p11.NewAttribute(p11.CKA_TOKEN, true),
		}, maxObjects)
		if err != nil {
			return err
		}
		for _, h := range hs {
			label, err := s.label(h)
			if err != nil {
				return err
			}
			if id := hsm.KeyID(label); id.Validate() == nil {
				ids = append(ids, id)
			}
		}
		return nil
	})
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, err
}

func (s session) label(h p11.ObjectHandle) (string, error) {
	attrs, err := s.ctx().GetAttributeValue(s.h, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, nil)})
	if err != nil {
		return "", fmt.Errorf("read label: %w", err)
	}
	return string(attrs[0].Value), nil
}

// publicKey reads the public key object h.
func (s session) publicKey(h p11.ObjectHandle) (crypto.PublicKey, error) {
	attrs, err := s.ctx().GetAttributeValue(s.h, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_KEY_TYPE, nil)})
	if err != nil {
		return nil, fmt.Errorf("read public key type: %w", err)
	}
	switch keyType := attrUint(attrs[0].Value); keyType {
	case p11.CKK_EC:
		attrs, err := s.ctx().GetAttributeValue(s.h, h, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_EC_PARAMS, nil), p11.NewAttribute(p11.CKA_EC_POINT, nil)})
		if err != nil {
			return nil, fmt.Errorf("read EC public key: %w", err)
		}
		return ecPublicKey(attrs[0].Value, attrs[1].Value)
	case p11.CKK_RSA:
		attrs, err := s.ctx().GetAttributeValue(s.h, h, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_MODULUS, nil), p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, nil)})
		if err != nil {
			return nil, fmt.Errorf("read RSA public key: %w", err)
		}
		e := new(big.Int).SetBytes(attrs[1].Value)
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return nil, errors.New("read RSA public key: exponent out of range")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(attrs[0].Value), E: int(e.Int64())}, nil
	default:
		return nil, fmt.Errorf("read public key: %w: key type %#x", hsm.ErrBadAlgorithm, keyType)
	}
}

// attrUint decodes a CK_ULONG attribute value (native byte order, as the
// library returns it).
func attrUint(b []byte) uint {
	var v uint
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint(b[i])
	}
	return v
}

func ecPublicKey(params, point []byte) (*ecdsa.PublicKey, error) {
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(params, &oid); err != nil {
		return nil, fmt.Errorf("read EC parameters: %w", err)
	}
	var curve elliptic.Curve
	switch {
	case oid.Equal(oidP256):
		curve = elliptic.P256()
	case oid.Equal(oidP384):
		curve = elliptic.P384()
	default:
		return nil, fmt.Errorf("read EC parameters: %w: curve %s", hsm.ErrBadAlgorithm, oid)
	}
	// CKA_EC_POINT is a DER OCTET STRING holding the uncompressed point;
	// some libraries return the bare point.
	var raw []byte
	if rest, err := asn1.Unmarshal(point, &raw); err != nil || len(rest) != 0 {
		raw = point
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
	if err != nil {
		return nil, fmt.Errorf("read EC point: %w", err)
	}
	return pub, nil
}

func algorithmOf(pub crypto.PublicKey) hsm.Algorithm {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return hsm.ECDSAP256
		case elliptic.P384():
			return hsm.ECDSAP384
		}
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return hsm.RSA2048
		case 3072:
			return hsm.RSA3072
		case 4096:
			return hsm.RSA4096
		}
	}
	return ""
}

// key is a private key resident on the token.
type key struct {
	c   *Custody
	id  hsm.KeyID
	alg hsm.Algorithm
	pub crypto.PublicKey
}

func (k *key) ID() hsm.KeyID            { return k.id }
func (k *key) Algorithm() hsm.Algorithm { return k.alg }
func (k *key) Public() crypto.PublicKey { return k.pub }

// Sign implements [crypto.Signer] on the token: ECDSA (ASN.1 signature),
// RSA PKCS #1 v1.5, or RSA-PSS when opts is *rsa.PSSOptions. The random
// source is not used: the token draws its own.
func (k *key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	var sig []byte
	err := k.c.do(context.Background(), func(s session) error {
		h, ok, err := s.find(p11.CKO_PRIVATE_KEY, string(k.id))
		if err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: %s", hsm.ErrKeyNotFound, k.id)
		}
		sig, err = s.sign(h, shapeOf(k.pub), digest, opts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sign with %s: %w", k.id, err)
	}
	return sig, nil
}

// shape is what signing needs to know of a key: its curve, or its RSA
// modulus size in bytes.
type shape struct {
	curve   elliptic.Curve
	rsaSize int
}

func shapeOf(pub crypto.PublicKey) shape {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return shape{curve: k.Curve}
	case *rsa.PublicKey:
		return shape{rsaSize: k.Size()}
	}
	return shape{}
}

func shapeOfAlg(alg hsm.Algorithm) shape {
	switch alg {
	case hsm.ECDSAP256:
		return shape{curve: elliptic.P256()}
	case hsm.ECDSAP384:
		return shape{curve: elliptic.P384()}
	case hsm.RSA2048:
		return shape{rsaSize: 256}
	case hsm.RSA3072:
		return shape{rsaSize: 384}
	case hsm.RSA4096:
		return shape{rsaSize: 512}
	}
	return shape{}
}

// sign signs digest with the private key object h of the given shape.
func (s session) sign(h p11.ObjectHandle, sh shape, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	mech, input, err := signMechanism(sh, digest, opts)
	if err != nil {
		return nil, err
	}
	if err := s.ctx().SignInit(s.h, []*p11.Mechanism{mech}, h); err != nil {
		return nil, err
	}
	sig, err := s.ctx().Sign(s.h, input)
	if err != nil {
		return nil, err
	}
	if sh.curve != nil {
		return ecdsaASN1(sh.curve, sig)
	}
	return sig, nil
}

// ecdsaASN1 turns the r‖s signature of PKCS #11 into the ASN.1 form.
func ecdsaASN1(curve elliptic.Curve, sig []byte) ([]byte, error) {
	n := (curve.Params().BitSize + 7) / 8
	if len(sig) != 2*n {
		return nil, fmt.Errorf("ECDSA signature is %d bytes, want %d", len(sig), 2*n)
	}
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
}

// digestInfoPrefixes are the DER DigestInfo headers of PKCS #1 v1.5
// signatures (RFC 8017 §9.2, note 1).
var digestInfoPrefixes = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// pssHashes maps hashes to the PKCS #11 hash and MGF1 identifiers.
var pssHashes = map[crypto.Hash][2]uint{
	crypto.SHA256: {p11.CKM_SHA256, p11.CKG_MGF1_SHA256},
	crypto.SHA384: {p11.CKM_SHA384, p11.CKG_MGF1_SHA384},
	crypto.SHA512: {p11.CKM_SHA512, p11.CKG_MGF1_SHA512},
}

// ErrSignerOpts means the signer options ask for a hash or padding the
// backend does not sign with.
var ErrSignerOpts = errors.New("pkcs11: unsupported signer options")

func signMechanism(sh shape, digest []byte, opts crypto.SignerOpts) (*p11.Mechanism, []byte, error) {
	h := crypto.Hash(0)
	if opts != nil {
		h = opts.HashFunc()
	}
	if h != 0 && len(digest) != h.Size() {
		return nil, nil, fmt.Errorf("%w: digest is %d bytes, %v wants %d", ErrSignerOpts, len(digest), h, h.Size())
	}
	switch {
	case sh.curve != nil:
		return p11.NewMechanism(p11.CKM_ECDSA, nil), digest, nil
	case sh.rsaSize > 0:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			ids, ok := pssHashes[h]
			if !ok {
				return nil, nil, fmt.Errorf("%w: RSA-PSS with %v", ErrSignerOpts, h)
			}
			salt := pss.SaltLength
			switch salt {
			case rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto:
				salt = h.Size()
			}
			if salt < 0 || salt > sh.rsaSize-h.Size()-2 {
				return nil, nil, fmt.Errorf("%w: PSS salt length %d", ErrSignerOpts, pss.SaltLength)
			}
			return p11.NewMechanism(p11.CKM_RSA_PKCS_PSS, p11.NewPSSParams(ids[0], ids[1], uint(salt))), digest, nil
		}
		prefix, ok := digestInfoPrefixes[h]
		if !ok {
			return nil, nil, fmt.Errorf("%w: RSA PKCS #1 v1.5 with %v", ErrSignerOpts, h)
		}
		return p11.NewMechanism(p11.CKM_RSA_PKCS, nil), append(append([]byte{}, prefix...), digest...), nil
	}
	return nil, nil, fmt.Errorf("%w: unknown key type", ErrSignerOpts)
}
