package enrollment

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/store"
)

// BenchmarkAuditedWrite measures an enrollment write with its audit copy
// under concurrent load (16 goroutines per core): the store transaction
// (with the event kept pending audit) and the grouped audit append. After
// the loop, a catch-up checks the pending events (audit.catchup-ns/event).
func BenchmarkAuditedWrite(b *testing.B) {
	e := newEnv(b)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	clock := func() time.Time { return *e.now }
	log, err := audit.New(e.st, key, audit.Options{Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	if e.svc, err = New(e.st, e.keys, e.ca, Options{Clock: clock, Argon2: fastArgon, Audit: log}); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			code := fmt.Sprintf("B%08d", next.Add(1))
			if _, err := e.svc.CreateCentre(ctx, Operator("bench"), store.Centre{Code: code, NameAr: "مركز", NameEn: "Centre", Governorate: "Amman"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	b.StopTimer()
	start := time.Now()
	added, err := e.svc.CatchUpAudit(ctx, 0)
	if err != nil || added != 0 {
		b.Fatalf("catch-up appended %d, %v", added, err)
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N), "catchup-ns/event")
}
