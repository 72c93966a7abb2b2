package tsp

import (
	"context"
	"crypto"
	"crypto/sha256"
	"math/big"
	"testing"
)

// BenchmarkRespond measures Respond end to end (parse, sign, encode) with
// several goroutines, for each TSU key type, with and without certReq.
func BenchmarkRespond(b *testing.B) {
	digest := sha256.Sum256([]byte("benchmark"))
	for _, kind := range []string{"p256", "p384", "rsa"} {
		for _, certReq := range []bool{false, true} {
			name := kind
			if certReq {
				name += "/certReq"
			}
			b.Run(name, func(b *testing.B) {
				a := newAuthority(b, newPKI(b, kind), Options{})
				req, err := NewRequest(crypto.SHA256, digest[:], RequestOptions{Nonce: sha256Nonce(), CertReq: certReq})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					for pb.Next() {
						if _, err := a.Respond(ctx, req); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
	}
}

func BenchmarkParseRequest(b *testing.B) {
	req := readTestdata(b, "sha256-nonce-cert.tsq")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(req); err != nil {
			b.Fatal(err)
		}
	}
}

func sha256Nonce() *big.Int {
	s := sha256.Sum256([]byte("nonce"))
	return new(big.Int).SetBytes(s[:8])
}
