package node

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/thiqa/thiqa/ca"
)

// TLS returns the configuration of a public listener with TLS: the server
// certificate chain and key from PEM files, and mutual TLS for agencies.
// A client may present a certificate; when it does, the certificate must
// chain to one in clientCAFile (PEM) or, when that is empty, to Thiqa's
// organisation CA, which issues agencies' e-seal certificates; otherwise
// the handshake fails. Browsers and the app present none and are not
// asked to.
//
// E-seal certificates carry the document-signing and emailProtection key
// purposes, not clientAuth, which Go's TLS server would demand; so the
// chain is verified here for any purpose, and the returned middleware
// records the verified chain on each request (http.Request.TLS.VerifiedChains),
// where the API finds the agency by its certificate.
func (n *Node) TLS(certFile, keyFile, clientCAFile string) (*tls.Config, func(http.Handler) http.Handler, error) {
	if certFile == "" || keyFile == "" {
		return nil, nil, errors.New("TLS: both a certificate and a key file are needed")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("TLS: %w", err)
	}
	pool := x509.NewCertPool()
	if clientCAFile != "" {
		if err := addPEM(pool, clientCAFile); err != nil {
			return nil, nil, err
		}
	} else {
		org, err := n.CA.AuthorityCertificate(ca.OrgCA)
		if err != nil {
			return nil, nil, fmt.Errorf("TLS: organisation CA: %w", err)
		}
		pool.AddCert(org)
	}
	verify := func(certs []*x509.Certificate) ([][]*x509.Certificate, error) {
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		return certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: n.now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
		ClientCAs:    pool, // named in the certificate request
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil
			}
			if _, err := verify(cs.PeerCertificates); err != nil {
				return fmt.Errorf("client certificate refused: %w", err)
			}
			return nil
		},
	}
	wrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
				cs := *r.TLS
				cs.VerifiedChains = nil
				if chains, err := verify(cs.PeerCertificates); err == nil {
					cs.VerifiedChains = chains
				}
				r2 := *r
				r2.TLS = &cs
				r = &r2
			}
			h.ServeHTTP(w, r)
		})
	}
	return cfg, wrap, nil
}

// now is the node's time.
func (n *Node) now() time.Time {
	if n.clock != nil {
		return n.clock()
	}
	return time.Now()
}

func addPEM(pool *x509.CertPool, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("TLS: client CAs: %w", err)
	}
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return fmt.Errorf("TLS: client CAs in %s: %w", file, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return fmt.Errorf("TLS: no certificate in %s", file)
	}
	return nil
}
