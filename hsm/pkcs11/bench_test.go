package pkcs11_test

import (
	"context"
	"crypto"
	"testing"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/hsm/hsmtest"
)

// BenchmarkCitizenSignature measures one authorised citizen signing (one
// digest: unwrap, sign, destroy) on SoftHSM2 and with the software
// backend's wrapped keys, from parallel goroutines. The ratio of the two is
// what the HSM costs per signature.
func BenchmarkCitizenSignature(b *testing.B) {
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048} {
		for _, backend := range []string{"softhsm2", "software"} {
			b.Run(backend+"/"+string(alg), func(b *testing.B) {
				c := wrappedBackend(b, backend)
				ctx := context.Background()
				blob, _, err := c.NewWrappedKey(ctx, "PNOJO-9861234567", alg)
				if err != nil {
					b.Fatal(err)
				}
				d := hsmtest.Digests(crypto.SHA256, 1)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := c.SignWithWrapped(ctx, "PNOJO-9861234567", blob, d, crypto.SHA256); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sig/s")
			})
		}
	}
}

// BenchmarkActivation measures NewWrappedKey (generate, wrap, bind,
// destroy).
func BenchmarkActivation(b *testing.B) {
	for _, backend := range []string{"softhsm2", "software"} {
		b.Run(backend, func(b *testing.B) {
			c := wrappedBackend(b, backend)
			ctx := context.Background()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := c.NewWrappedKey(ctx, "PNOJO-9861234567", hsm.ECDSAP256); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}

func wrappedBackend(b *testing.B, name string) hsm.WrappedCustody {
	b.Helper()
	if name == "software" {
		s, err := hsm.OpenSoftware(b.TempDir(), make([]byte, hsm.KEKSize), nil)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	return open(b, newToken(b))
}

// BenchmarkTokenKeySign measures signing with a key resident on the token
// (an OCSP responder's or the TSU's), from parallel goroutines.
func BenchmarkTokenKeySign(b *testing.B) {
	c := open(b, newToken(b))
	k, err := c.GenerateKey(context.Background(), "ocsp", hsm.ECDSAP256)
	if err != nil {
		b.Fatal(err)
	}
	d := hsmtest.Digests(crypto.SHA256, 1)[0]
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := k.Sign(nil, d, crypto.SHA256); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sig/s")
}
