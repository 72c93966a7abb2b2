package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/thiqa/thiqa/internal/testenv"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/store"
)

// benchClient is one citizen of the load: a phone and a session.
type benchClient struct {
	ph  *testPhone
	tok string
}

// post sends JSON over the loopback connection and decodes the answer.
func post(c *http.Client, url, token string, body []byte, out any) (int, error) {
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
	}
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// BenchmarkApprovals measures end-to-end approvals of 1-document requests
// (a 1 MB PDF, B-LT, software keys, Thiqa's TSA and OCSP in process) by 64
// concurrent citizens over loopback HTTP. Each operation is one approval:
// approval/begin (prepare, challenge) then approval/finish (verify the
// assertion, prepare again, sign, time-stamp, OCSP, store). The agency's
// requests are created before the timed part (creates/s reports that
// phase). Reported: approvals/s and the p50/p99 latency of one approval.
// Each citizen approves its own requests in turn, as a phone would.
//
//	go test ./api/ -run '^$' -bench BenchmarkApprovals -benchtime 640x -cpu 2
func BenchmarkApprovals(b *testing.B) {
	const clients = 64
	e := newSignEnv(b)
	admin := e.officer(b, "", "root", store.RoleAdmin)
	off := e.officer(b, admin, "omar", store.RoleOfficer)
	ag := e.agency(b, "Bench Agency", signing.ScopeSignRequests)
	phoneOf := map[string]*benchClient{}
	for i := 0; i < clients; i++ {
		nid := fmt.Sprintf("98600%05d", i)
		ph, tok := e.citizen(b, off, nid)
		phoneOf[nid] = &benchClient{ph: ph, tok: tok}
	}
	srv := httptest.NewServer(e.srv)
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	pdf := testenv.OnePagePDF("Thiqa benchmark document", benchPDFSize)
	// One request body per citizen, made once.
	bodies := map[string][]byte{}
	for i := 0; i < clients; i++ {
		nid := fmt.Sprintf("98600%05d", i)
		raw, _ := json.Marshal(signing.NewRequest{NationalID: nid, PurposeAr: "غرض", PurposeEn: "Benchmark",
			Documents: []signing.NewDocument{{Name: "doc.pdf", Content: pdf}}})
		bodies[nid] = raw
	}
	// The agencies' requests are made before the clock starts, by 64
	// concurrent clients too: queue[nid] holds each citizen's requests.
	queues := map[string]chan string{}
	for nid := range bodies {
		queues[nid] = make(chan string, b.N)
	}
	nids := make([]string, 0, clients)
	for nid := range bodies {
		nids = append(nids, nid)
	}
	sort.Strings(nids)
	work := make(chan string, b.N)
	for i := 0; i < b.N; i++ {
		work <- nids[i%clients]
	}
	close(work)
	createStart := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for nid := range work {
				var req signing.RequestView
				if code, err := post(hc, srv.URL+"/api/v1/sign-requests", ag.Key, bodies[nid], &req); err != nil || code != 201 {
					b.Errorf("create: %d %v", code, err)
					return
				}
				queues[nid] <- req.ID
			}
		}()
	}
	wg.Wait()
	createRate := float64(b.N) / time.Since(createStart).Seconds()
	for _, q := range queues {
		close(q)
	}

	var mu sync.Mutex
	var lat []time.Duration
	b.SetBytes(int64(len(pdf)))
	b.ResetTimer()
	start := time.Now()
	// 64 clients, one per citizen, each approving its own requests in
	// turn as a phone would (RunParallel would hand a citizen's requests
	// to other goroutines).
	var run sync.WaitGroup
	for _, nid := range nids {
		run.Add(1)
		go func() {
			defer run.Done()
			approveAll(b, e, hc, srv.URL, phoneOf[nid], queues[nid], &mu, &lat)
		}()
	}
	run.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(createRate, "creates/s")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "approvals/s")
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
}

// benchPDFSize is the size of the benchmark's document (1 MB, as the
// issue asks).
var benchPDFSize = 1 << 20

// approveAll approves, one after the other, the requests of one citizen.
func approveAll(b *testing.B, e *signEnv, hc *http.Client, base string, c *benchClient, queue chan string, mu *sync.Mutex, lat *[]time.Duration) {
	for id := range queue {
		t1 := time.Now()
		var ch beginReply
		if code, err := post(hc, base+"/api/v1/sign-requests/"+id+"/approval/begin", c.tok, nil, &ch); err != nil || code != 200 {
			b.Errorf("begin: %d %v", code, err)
			return
		}
		opts, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
		if err != nil {
			b.Error(err)
			return
		}
		c.ph.cred.Counter++
		resp := virtualwebauthn.CreateAssertionResponse(e.rp, c.ph.auth, c.ph.cred, *opts)
		fin, _ := json.Marshal(map[string]any{"ceremony_id": ch.CeremonyID, "credential": json.RawMessage(resp)})
		var done signing.RequestView
		if code, err := post(hc, base+"/api/v1/sign-requests/"+id+"/approval/finish", c.tok, fin, &done); err != nil || code != 200 || done.State != store.SignSigned {
			b.Errorf("finish: %d %v %s", code, err, done.State)
			return
		}
		d := time.Since(t1)
		mu.Lock()
		*lat = append(*lat, d)
		mu.Unlock()
	}
}
