package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"syscall"
	"testing"
	"time"
)

// BenchmarkIssue measures issuance of a citizen signing certificate from a
// CSR — parse and check the CSR, profile checks, zlint of a throwaway copy,
// the real signature, and a durable (fsynced) store insert — from parallel
// clients.
func BenchmarkIssue(b *testing.B) {
	env := newEnv(b, time.Now())
	env.svc.opts.Clock = time.Now
	ctx := context.Background()
	csrs := make([][]byte, 64)
	for i := range csrs {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		csrs[i], _ = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU(b)
	b.SetParallelism(8) // clients waiting on fsync overlap
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := env.svc.IssueFromCSR(ctx, CitizenSigning, csrs[i%len(csrs)], citizen()); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/cert")
}

// processCPU is the user and system CPU time the process has used so far:
// on a machine shared with other work, CPU per operation says more than
// wall-clock throughput.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLint measures zlint alone on a citizen signing certificate.
func BenchmarkLint(b *testing.B) {
	env := newEnv(b, time.Now())
	c := env.issue(b, CitizenSigning)
	b.ResetTimer()
	for b.Loop() {
		if err := lint(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOCSPCached measures OCSP answers for known serials without a
// nonce, the RFC 5019 case that relying parties and CDNs use, from
// pre-signed cached responses.
func BenchmarkOCSPCached(b *testing.B) {
	env := newEnv(b, time.Now())
	env.svc.opts.Clock = time.Now
	ctx := context.Background()
	issuer, _ := env.svc.AuthorityCertificate(CitizenCA)
	var reqs [][]byte
	for range 256 {
		reqs = append(reqs, ocspRequest(b, env.issue(b, CitizenSigning), issuer, crypto.SHA1, nil))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := env.svc.OCSP().Respond(ctx, reqs[i%len(reqs)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
}

// BenchmarkOCSPNonce measures OCSP answers that echo a nonce, signed
// afresh each time (P-256 responder key).
func BenchmarkOCSPNonce(b *testing.B) {
	env := newEnv(b, time.Now())
	env.svc.opts.Clock = time.Now
	ctx := context.Background()
	issuer, _ := env.svc.AuthorityCertificate(CitizenCA)
	req := ocspRequest(b, env.issue(b, CitizenSigning), issuer, crypto.SHA256, []byte("0123456789abcdef"))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := env.svc.OCSP().Respond(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
}
