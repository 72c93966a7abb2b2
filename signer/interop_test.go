package signer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	dpdf "github.com/digitorus/pdf"
	psign "github.com/digitorus/pdfsign/sign"
	pverify "github.com/digitorus/pdfsign/verify"
	"github.com/thiqa/thiqa/internal/testpki"
)

// TestPdfsignVerifies checks that the peer's verify package accepts our
// B-B and B-T signatures, on generated inputs and the corpus subset.
func TestPdfsignVerifies(t *testing.T) {
	p := testpki.New(t, nil)
	for name, in := range subsetInputs(t) {
		for _, level := range []Level{LevelBB, LevelBT} {
			t.Run(name+"/"+level.String(), func(t *testing.T) {
				out := signBytes(t, in, p.SignerKey, options(p, level))
				opts := pverify.DefaultVerifyOptions()
				opts.AllowUntrustedRoots = true
				opts.RequiredEKUs = nil
				resp, err := pverify.VerifyWithOptions(bytes.NewReader(out), int64(len(out)), opts)
				if err != nil {
					t.Fatalf("pdfsign verify: %v", err)
				}
				if resp.Error != "" {
					// Accept only a failure the input already has.
					orig, _ := pverify.VerifyWithOptions(bytes.NewReader(in), int64(len(in)), opts)
					if orig == nil || orig.Error != resp.Error {
						t.Fatalf("pdfsign verify: %s", resp.Error)
					}
					t.Logf("pdfsign verify fails on the input itself: %s", resp.Error)
					return
				}
				if len(resp.Signers) == 0 {
					t.Fatalf("pdfsign verify: %+v", resp)
				}
				ours := resp.Signers[len(resp.Signers)-1]
				if !ours.ValidSignature {
					t.Fatalf("pdfsign verify: our signature is not valid: %+v", ours)
				}
				if level == LevelBT && ours.TimeStamp == nil {
					t.Fatal("pdfsign verify: no time-stamp")
				}
			})
		}
	}
}

// pdfsignSign signs with the peer; it recovers from the peer's panics.
func pdfsignSign(in []byte, p *testpki.PKI, w io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pdfsign panicked: %v", r)
		}
	}()
	rdr, err := dpdf.NewReader(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		return err
	}
	return psign.Sign(bytes.NewReader(in), w, rdr, int64(len(in)), psign.SignData{
		Signature: psign.SignDataSignature{
			CertType: psign.ApprovalSignature,
			Info:     psign.SignDataSignatureInfo{Name: "Test", Reason: "Approval", Location: "Amman", Date: p.Now},
		},
		Signer: p.SignerKey, DigestAlgorithm: defaultHash, Certificate: p.Signer,
		CertificateChains: [][]*x509.Certificate{append([]*x509.Certificate{p.Signer}, p.Chain()...)},
	})
}

// TestSignsWhatPdfsignSigns checks that every corpus input the peer signs,
// we sign too.
func TestSignsWhatPdfsignSigns(t *testing.T) {
	p := testpki.New(t, nil)
	files, _ := filepath.Glob(filepath.Join(corpusDir(t), "inputs", "*", "*.pdf"))
	peer, ours := 0, 0
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if pdfsignSign(in, p, io.Discard) != nil {
			continue
		}
		peer++
		var out bytes.Buffer
		if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, p.SignerKey, options(p, LevelBB)); err != nil {
			if name := filepath.Base(f); refused[name] != nil {
				t.Logf("%s: pdfsign signs it, we refuse: %v", name, err)
				continue
			}
			t.Errorf("%s: pdfsign signs it, we do not: %v", filepath.Base(f), err)
			continue
		}
		ours++
	}
	t.Logf("pdfsign signs %d of %d corpus inputs; we sign %d of those", peer, len(files), ours)
}

// benchInput is a 1 MB PDF.
func benchInput(b *testing.B) []byte {
	b.Helper()
	return makePDF(b, 1<<20, false)
}

func BenchmarkSHA256_1MB(b *testing.B) {
	in := benchInput(b)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		sha256.Sum256(in)
	}
}

func BenchmarkSignBB_1MB(b *testing.B) {
	p := testpki.New(b, nil)
	in := benchInput(b)
	o := options(p, LevelBB)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), io.Discard, p.SignerKey, o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPdfsignBB_1MB(b *testing.B) {
	p := testpki.New(b, nil)
	in := benchInput(b)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := pdfsignSign(in, p, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignBLT_1MB(b *testing.B) {
	p := testpki.New(b, nil)
	in := benchInput(b)
	o := options(p, LevelBLT)
	o.Revocation = inProcessRevocation(b, p)
	o.Timestamper = &SizedTimestamper{Timestamper: TimestamperFunc(p.Authority.Token)}
	b.SetBytes(int64(len(in)))
	var times []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), io.Discard, p.SignerKey, o); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
}

// inProcessRevocation answers from the test PKI without HTTP: OCSP for
// certificates issued by the issuing CA, the root's CRL for the CA.
func inProcessRevocation(t testing.TB, p *testpki.PKI) RevocationSource {
	t.Helper()
	// The root's CRL is made once, as a CA publishes it; OCSP responses
	// are signed per request.
	crl, err := p.CRL(p.Root)
	if err != nil {
		t.Fatal(err)
	}
	return revocationFunc(func(ctx context.Context, cert, issuer *x509.Certificate) (*Revocation, error) {
		if issuer.Equal(p.Root) {
			return &Revocation{CRLs: [][]byte{crl}}, nil
		}
		resp, err := p.OCSPResponse(cert)
		return &Revocation{OCSP: [][]byte{resp}, Certs: []*x509.Certificate{p.OCSPResponder}}, err
	})
}

type revocationFunc func(ctx context.Context, cert, issuer *x509.Certificate) (*Revocation, error)

func (f revocationFunc) Revocation(ctx context.Context, cert, issuer *x509.Certificate) (*Revocation, error) {
	return f(ctx, cert, issuer)
}
