package oidc

import (
	"crypto"
	"crypto/sha256"
)

const cryptoSHA256 = crypto.SHA256

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
