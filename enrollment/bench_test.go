package enrollment

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/store"
)

// latencies collects per-operation durations and reports throughput and
// percentiles.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds ops/s, p50 and p99 latency, and the CPU time per operation
// (a measure that neighbours on a shared machine do not skew; the
// throughput that 2 idle cores could reach is 2 s / cpu-ms-per-op).
func (l *latencies) report(b *testing.B, elapsed, cpu time.Duration) {
	if len(l.d) == 0 {
		return
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(l.d)), "cpu-ms/op")
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	pct := func(p float64) float64 { return float64(l.d[int(p*float64(len(l.d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(l.d))/elapsed.Seconds(), "ops/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkActivation measures activation under concurrent load (32
// clients on the machine's cores): redeeming the code, verifying the
// passkey registration, generating two P-256 keys in software custody
// (one sealed file each) and issuing two certificates (each linted),
// with the store writes. The citizens are enrolled before the timer.
func BenchmarkActivation(b *testing.B) {
	// Citizen keys wrapped by the software custody and stored with the
	// identity: what `thiqa serve` does.
	b.Run("wrapped-keys", func(b *testing.B) { benchActivation(b, "wrapped") })
	// One named, sealed key file per citizen key (two fsyncs each).
	b.Run("software-custody", func(b *testing.B) { benchActivation(b, "named") })
	// Citizen keys held in memory: the rest of the pipeline alone.
	b.Run("memory-keys", func(b *testing.B) { benchActivation(b, "memory") })
}

func benchActivation(b *testing.B, keys string) {
	e := newEnv(b)
	var err error
	switch keys {
	case "memory":
		e.svc, err = New(e.st, &memCustody{keys: map[hsm.KeyID]hsm.Key{}}, e.ca, e.svc.opts)
	case "wrapped":
		opts := e.svc.opts
		opts.Wrapped = e.keys
		e.svc, err = New(e.st, e.keys, e.ca, opts)
	}
	if err != nil {
		b.Fatal(err)
	}
	e.centre(b, "AMM-01")
	off := e.officer(b, "omar", store.RoleOfficer, "AMM-01")
	type pending struct{ nid, code string }
	todo := make([]pending, b.N)
	for i := range todo {
		nid := fmt.Sprintf("%010d", 1000000000+i)
		res, err := e.svc.Enrol(ctx, off, layla(nid))
		if err != nil {
			b.Fatal(err)
		}
		todo[i] = pending{nid, res.Code.Code}
	}
	var next atomic.Int64
	var lat latencies
	b.SetParallelism(16)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p := todo[next.Add(1)-1]
			t0 := time.Now()
			ch, err := e.svc.BeginActivation(ctx, p.nid, p.code)
			if err != nil {
				b.Error(err)
				return
			}
			ao, err := virtualwebauthn.ParseAttestationOptions(string(ch.Options))
			if err != nil {
				b.Error(err)
				return
			}
			auth := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(ao.UserID)})
			resp := virtualwebauthn.CreateAttestationResponse(e.rp, auth, newCredential(), *ao)
			if _, err := e.svc.FinishActivation(ctx, ch.CeremonyID, "phone", []byte(resp)); err != nil {
				b.Error(err)
				return
			}
			lat.add(time.Since(t0))
		}
	})
	lat.report(b, time.Since(start), cpuTime()-cpu0)
}

// BenchmarkSignIn measures passkey sign-in under concurrent load (32
// clients, each with its own activated identity): begin (a stored
// challenge), the assertion made by the virtual authenticator, finish
// (verification, sign counter, session), each write durable.
func BenchmarkSignIn(b *testing.B) {
	e := newEnv(b)
	e.centre(b, "AMM-01")
	off := e.officer(b, "omar", store.RoleOfficer, "AMM-01")
	b.SetParallelism(16)
	phones := make([]*phone, 16*2*4)
	for i := range phones {
		nid := fmt.Sprintf("%010d", 2000000000+i)
		res, err := e.svc.Enrol(ctx, off, layla(nid))
		if err != nil {
			b.Fatal(err)
		}
		phones[i], _ = e.activate(b, nid, res.Code.Code)
	}
	var next atomic.Int64
	var lat latencies
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		p := phones[int(next.Add(1)-1)%len(phones)]
		for pb.Next() {
			t0 := time.Now()
			ch, err := e.svc.BeginSignIn(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			ao, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
			if err != nil {
				b.Error(err)
				return
			}
			p.cred.Counter++
			resp := virtualwebauthn.CreateAssertionResponse(e.rp, p.auth, p.cred, *ao)
			if _, _, err := e.svc.FinishSignIn(ctx, ch.CeremonyID, []byte(resp)); err != nil {
				b.Error(err)
				return
			}
			lat.add(time.Since(t0))
		}
	})
	lat.report(b, time.Since(start), cpuTime()-cpu0)
}

// BenchmarkPasswordHash measures one argon2id hash with DefaultArgon2: the
// CPU cost of an officer sign-in.
func BenchmarkPasswordHash(b *testing.B) {
	s := &Service{opts: Options{Argon2: DefaultArgon2}}
	setDefaults(&s.opts)
	h, err := s.hashPassword("correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !checkPassword(h, "correct horse battery") {
			b.Fatal("password does not verify")
		}
	}
}

// memCustody keeps keys in memory, for the benchmark only.
type memCustody struct {
	mu   sync.Mutex
	keys map[hsm.KeyID]hsm.Key
}

type memKey struct {
	*ecdsa.PrivateKey
	id hsm.KeyID
}

func (k memKey) ID() hsm.KeyID            { return k.id }
func (k memKey) Algorithm() hsm.Algorithm { return hsm.ECDSAP256 }

func (c *memCustody) GenerateKey(ctx context.Context, id hsm.KeyID, alg hsm.Algorithm) (hsm.Key, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.keys[id]; ok {
		return nil, hsm.ErrKeyExists
	}
	c.keys[id] = memKey{k, id}
	return c.keys[id], nil
}

func (c *memCustody) Key(ctx context.Context, id hsm.KeyID) (hsm.Key, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.keys[id]; ok {
		return k, nil
	}
	return nil, hsm.ErrKeyNotFound
}

func (c *memCustody) Keys(ctx context.Context) ([]hsm.KeyID, error) { return nil, nil }
