package signer_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"os"

	"github.com/thiqa/thiqa/signer"
)

// The two-step flow: the server prepares the PDF and gets the digest, the
// key (in an HSM, unlocked by a passkey approval of exactly this digest)
// signs it, and the server completes the signature.
func ExamplePrepare() {
	var (
		cert  *x509.Certificate // the citizen's certificate
		chain []*x509.Certificate
		key   crypto.Signer // held in custody
	)
	ctx := context.Background()
	in, err := os.Open("contract.pdf")
	if err != nil {
		return
	}
	defer in.Close()
	st, _ := in.Stat()
	prep, digest, err := signer.Prepare(ctx, in, st.Size(), &signer.Options{
		Certificate: cert, Chain: chain, Level: signer.LevelBLT,
		Timestamper: &signer.HTTPTimestamper{URL: "https://tsa.thiqa.example/"},
		Revocation:  &signer.HTTPRevocation{},
	})
	if err != nil {
		return
	}
	sig, err := key.Sign(rand.Reader, digest, prep.SignerOpts())
	if err != nil {
		return
	}
	if err := prep.Complete(ctx, sig); err != nil {
		return
	}
	out, err := os.Create("contract-signed.pdf")
	if err != nil {
		return
	}
	defer out.Close()
	prep.WriteTo(out)
}
