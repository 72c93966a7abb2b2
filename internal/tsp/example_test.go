package tsp_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"net/http"

	"github.com/thiqa/thiqa/internal/tsp"
)

// Example shows a TSA served over HTTP and a signer asking the same
// Authority for a signature time-stamp in process. (It is compiled, not run:
// the tests build a runnable PKI.)
func Example() {
	var (
		key   crypto.Signer     // the TSU key, from the HSM
		cert  *x509.Certificate // the TSU certificate: EKU timeStamping, critical
		chain []*x509.Certificate
	)
	a, err := tsp.New(key, cert, chain, tsp.Options{Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 2, 1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	http.Handle("/tsa", a)

	digest := sha256.Sum256([]byte("signature value"))
	token, err := a.Token(context.Background(), crypto.SHA256, digest[:])
	if err != nil {
		fmt.Println(err)
		return
	}
	info, _ := tsp.ParseToken(token)
	fmt.Println(info.GenTime)
}
