package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/pgtest"
	"github.com/thiqa/thiqa/store"
)

// benchCitizen is an activated citizen with their virtual phone.
type benchCitizen struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

// BenchmarkNodeStores runs whole operations of a node (certificate
// issuance through the CA; passkey sign-in, begin and finish, through
// enrollment) on the embedded store and on PostgreSQL, from 8 goroutines
// per core. PostgreSQL runs on the same machine. THIQA_BENCH_SESSIONS=N
// first stores N live sessions, as a population has.
func BenchmarkNodeStores(b *testing.B) {
	ctx := context.Background()
	rp := virtualwebauthn.RelyingParty{ID: "localhost", Name: "Thiqa", Origin: "http://localhost:8080"}
	for _, kind := range []string{"bolt", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			opts := Options{Dir: filepath.Join(b.TempDir(), "data"), Create: true, CA: ca.DefaultConfig()}
			if kind == "postgres" {
				opts.Store = pgtest.DSN(b)
			}
			live := os.Getenv("THIQA_BENCH_SESSIONS")
			n, _, err := Open(ctx, opts)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { n.Close() })
			if live != "" {
				// A population's live sessions: the purge's reads then
				// touch index pages apart from the new sessions'.
				count, err := strconv.Atoi(live)
				if err != nil {
					b.Fatal(err)
				}
				if err := n.Store.EnrollmentUpdate(ctx, func(tx store.EnrollmentTx) error {
					for i := range count {
						h := sha256.Sum256([]byte(strconv.Itoa(i)))
						if err := tx.PutSession(store.Session{Hash: h[:], Kind: store.SessionCitizen, Subject: "x", Expires: time.Now().Add(time.Hour)}); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("issue", func(b *testing.B) {
				key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						_, err := n.CA.Issue(ctx, ca.Request{Profile: ca.CitizenAuth, PublicKey: key.Public(), Subject: ca.Subject{
							NationalID: "9861234567", GivenName: "Sara", Surname: "Nasser", GivenNameAr: "سارة", SurnameAr: "ناصر"}})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			// Citizens for the sign-ins: one per goroutine, so that each
			// passkey's signature counter only goes up.
			if _, err := n.Enrollment.CreateCentre(ctx, enrollment.Operator("root"), store.Centre{Code: "AMM-01", NameAr: "عمّان", NameEn: "Amman", Governorate: "Amman"}); err != nil {
				b.Fatal(err)
			}
			officer := signInOfficer(b, n, n, "omar", store.RoleOfficer)
			citizens := make([]*benchCitizen, 32)
			for i := range citizens {
				nid := fmt.Sprintf("98612345%02d", i)
				enr, err := n.Enrollment.Enrol(ctx, officer, enrollment.Proofing{NationalID: nid, GivenName: "Layla", Surname: "Haddad",
					GivenNameAr: "ليلى", SurnameAr: "حداد", DateOfBirth: "1990-04-12", DocType: "national-id-card", DocNumber: "ab123456",
					DocExpiry: "2030-01-01", DocCheck: "pass", FaceMatch: "pass"})
				if err != nil {
					b.Fatal(err)
				}
				ch, err := n.Enrollment.BeginActivation(ctx, nid, enr.Code.Code)
				if err != nil {
					b.Fatal(err)
				}
				ao, err := virtualwebauthn.ParseAttestationOptions(string(ch.Options))
				if err != nil {
					b.Fatal(err)
				}
				c := &benchCitizen{auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(ao.UserID)}), cred: passkey(b)}
				resp := virtualwebauthn.CreateAttestationResponse(rp, c.auth, c.cred, *ao)
				c.auth.AddCredential(c.cred)
				if _, err := n.Enrollment.FinishActivation(ctx, ch.CeremonyID, "phone", []byte(resp)); err != nil {
					b.Fatal(err)
				}
				citizens[i] = c
			}
			var next atomic.Int64
			b.Run("signin", func(b *testing.B) {
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					i := int(next.Add(1)-1) % len(citizens)
					c := citizens[i]
					for pb.Next() {
						ch, err := n.Enrollment.BeginSignIn(ctx)
						if err != nil {
							b.Error(err)
							return
						}
						as, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
						if err != nil {
							b.Error(err)
							return
						}
						c.cred.Counter++
						if _, _, err := n.Enrollment.FinishSignIn(ctx, ch.CeremonyID, []byte(virtualwebauthn.CreateAssertionResponse(rp, c.auth, c.cred, *as))); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}
