package audit_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/thiqa/thiqa/audit"
)

// FuzzProofQueries sends fuzzed query strings to the public proof
// endpoints of a log of 11 records. A 200 answer must hold a proof that
// the merkle module's verifier accepts against the roots computed here
// from the records themselves (RFC 6962 section 2.1); anything else must
// be a 4xx; never a 5xx, never a panic.
func FuzzProofQueries(f *testing.F) {
	fx := newFixture(f)
	rs := fx.fill(f, 11, 6, 11)
	var leaves [][]byte
	roots := map[uint64][]byte{0: mth(nil)}
	for i, r := range rs {
		leaves = append(leaves, r.Record)
		roots[uint64(i+1)] = mth(leaves)
	}
	h := fx.log.Handler()
	for _, q := range []string{"index=4", "index=10&size=11", "index=0&size=1", fmt.Sprintf("hash=%x&size=6", rs[5].LeafHash),
		"index=11", "index=4&size=3", "index=-1", "hash=zz", "index=1&hash=00", "size=18446744073709551615&index=1"} {
		f.Add(false, q)
	}
	for _, q := range []string{"from=6", "from=6&to=11", "from=0&to=5", "from=11", "from=12", "from=3&to=2", "from=x"} {
		f.Add(true, q)
	}
	f.Fuzz(func(t *testing.T, consistency bool, query string) {
		path := "/audit/proof/inclusion?"
		if consistency {
			path = "/audit/proof/consistency?"
		}
		req, err := http.NewRequest(http.MethodGet, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 400 && rec.Code < 500 {
			return
		}
		if rec.Code != http.StatusOK {
			t.Fatalf("%s%s: %d %s", path, query, rec.Code, rec.Body)
		}
		if consistency {
			var p audit.ConsistencyProof
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.From == 0 || p.From == p.To {
				if len(p.Hashes) != 0 || roots[p.To] == nil {
					t.Fatalf("%s: trivial proof %+v", query, p)
				}
				return
			}
			if roots[p.From] == nil || roots[p.To] == nil {
				t.Fatalf("%s: proof between sizes %d and %d of a log of 11", query, p.From, p.To)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, p.From, p.To, p.Hashes, roots[p.From], roots[p.To]); err != nil {
				t.Fatalf("%s: consistency proof does not verify: %v", query, err)
			}
			return
		}
		var p audit.InclusionProof
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if p.Size == 0 || roots[p.Size] == nil || p.Index >= p.Size || !bytes.Equal(p.LeafHash, rs[p.Index].LeafHash) {
			t.Fatalf("%s: proof %+v", query, p)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, p.Size, p.LeafHash, p.Hashes, roots[p.Size]); err != nil {
			t.Fatalf("%s: inclusion proof does not verify: %v", query, err)
		}
	})
}
