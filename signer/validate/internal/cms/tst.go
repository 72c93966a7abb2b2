package cms

import (
	"crypto"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"
)

// TSTInfo is the content of an RFC 3161 time-stamp token.
type TSTInfo struct {
	Policy        asn1.ObjectIdentifier
	Hash          crypto.Hash
	HashedMessage []byte
	Serial        *big.Int
	GenTime       time.Time
}

type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint struct {
		Alg struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		Hashed []byte
	}
	Serial  *big.Int
	GenTime time.Time     `asn1:"generalized"`
	Rest    asn1.RawValue `asn1:"optional"`
}

// ParseTSTInfo parses a TSTInfo (the eContent of a time-stamp token).
func ParseTSTInfo(der []byte) (*TSTInfo, error) {
	var t tstInfo
	if _, err := asn1.Unmarshal(der, &t); err != nil {
		return nil, fmt.Errorf("%w: TSTInfo: %v", ErrFormat, err)
	}
	h, ok := HashFromOID(t.MessageImprint.Alg.Algorithm)
	if !ok {
		return nil, fmt.Errorf("%w: imprint hash %v", ErrAlgorithm, t.MessageImprint.Alg.Algorithm)
	}
	return &TSTInfo{Policy: t.Policy, Hash: h, HashedMessage: t.MessageImprint.Hashed, Serial: t.Serial, GenTime: t.GenTime}, nil
}
