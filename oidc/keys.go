package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/thiqa/thiqa/hsm"
)

// KeyPrefix names the custody keys that sign ID tokens: KeyPrefix+"1",
// KeyPrefix+"2", ...; the highest number signs, the one before it stays in
// the JWKS so tokens signed before a rotation still verify.
const KeyPrefix = "oidc-signing-"

// signingKeys finds (creating the first when none exist) the signing keys.
func signingKeys(ctx context.Context, keys hsm.Custody) ([]hsm.Key, error) {
	ids, err := keys.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	var nums []int
	for _, id := range ids {
		s, ok := strings.CutPrefix(string(id), KeyPrefix)
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	if len(nums) == 0 {
		k, err := keys.GenerateKey(ctx, hsm.KeyID(KeyPrefix+"1"), hsm.ECDSAP256)
		if err != nil && !errors.Is(err, hsm.ErrKeyExists) {
			return nil, fmt.Errorf("generate signing key: %w", err)
		}
		if err == nil {
			return []hsm.Key{k}, nil
		}
		nums = []int{1}
	}
	if len(nums) > 2 {
		nums = nums[len(nums)-2:]
	}
	var out []hsm.Key
	for _, n := range nums {
		k, err := keys.Key(ctx, hsm.KeyID(KeyPrefix+strconv.Itoa(n)))
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		if _, ok := k.Public().(*ecdsa.PublicKey); !ok {
			return nil, fmt.Errorf("signing key %s: not ECDSA P-256", k.ID())
		}
		out = append(out, k)
	}
	return out, nil
}

// Rotate creates the next signing key in custody. A provider opened
// afterwards signs with it and still publishes the previous key.
func Rotate(ctx context.Context, keys hsm.Custody) (hsm.KeyID, error) {
	cur, err := signingKeys(ctx, keys)
	if err != nil {
		return "", fmt.Errorf("rotate oidc key: %w", err)
	}
	last := cur[len(cur)-1].ID()
	n, _ := strconv.Atoi(strings.TrimPrefix(string(last), KeyPrefix))
	id := hsm.KeyID(KeyPrefix + strconv.Itoa(n+1))
	if _, err := keys.GenerateKey(ctx, id, hsm.ECDSAP256); err != nil {
		return "", fmt.Errorf("rotate oidc key: %w", err)
	}
	return id, nil
}

// opaque signs JWS ES256 with a custody key.
type opaque struct{ k hsm.Key }

var _ jose.OpaqueSigner = opaque{}

func (o opaque) Public() *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: o.k.Public(), KeyID: string(o.k.ID()), Algorithm: string(jose.ES256), Use: "sig"}
}

func (o opaque) Algs() []jose.SignatureAlgorithm { return []jose.SignatureAlgorithm{jose.ES256} }

func (o opaque) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if alg != jose.ES256 {
		return nil, fmt.Errorf("sign id token: algorithm %s not supported", alg)
	}
	h := sha256Sum(payload)
	der, err := o.k.Sign(rand.Reader, h, cryptoSHA256)
	if err != nil {
		return nil, fmt.Errorf("sign id token: %w", err)
	}
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		return nil, fmt.Errorf("sign id token: %w", err)
	}
	out := make([]byte, 64)
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return out, nil
}

// signingKey is the op.SigningKey of the current key.
type signingKey struct{ k hsm.Key }

func (s signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (s signingKey) Key() any                                    { return opaque(s) }
func (s signingKey) ID() string                                  { return string(s.k.ID()) }

// publicKey is an op.Key of the JWKS.
type publicKey struct{ k hsm.Key }

func (p publicKey) ID() string                         { return string(p.k.ID()) }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return p.k.Public() }
