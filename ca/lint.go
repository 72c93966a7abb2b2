package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"fmt"
	"sort"
	"strings"
	"sync"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	zl "github.com/zmap/zlint/v3/lint"
)

// lint runs every lint of [lintRegistry] on cert and refuses any error,
// warning or fatal result. The key ceremony and the tests use it.
func lint(cert *x509.Certificate) error {
	reg, err := lintRegistry()
	if err != nil {
		return fmt.Errorf("%w: zlint registry: %v", ErrLint, err)
	}
	return lintDER(cert.Raw, reg)
}

const emudhraLint = "e_cert_issued_by_compromised_emudhra_ca"

// lintRegistry is every zlint lint but one: the eMudhra lint verifies each
// certificate's signature with the keys of another PKI's compromised CAs.
// Thiqa's issuers are its own ceremony's keys, and that check alone cost
// more than every other lint together (a P-384 verification per
// certificate).
var lintRegistry = sync.OnceValues(func() (zl.Registry, error) {
	return zl.GlobalRegistry().Filter(zl.FilterOptions{ExcludeNames: []string{emudhraLint}})
})

// tlsOnlySources are the lint sources that govern only TLS server and
// code-signing certificates, which Thiqa never issues: the CA/Browser
// Forum's TLS and code-signing requirements and EV guidelines, and Apple's
// and Chrome's TLS root-store policies. On Thiqa's end-entity profiles
// every one of their lints is not applicable (TestTLSLintsDoNotApply keeps
// that true), so issuance skips them: half of zlint's lints, and 60 % of
// its time.
var tlsOnlySources = zl.SourceList{zl.CABFBaselineRequirements, zl.CABFEVGuidelines, zl.CABFCSBaselineRequirements, zl.AppleRootStorePolicy, zl.ChromeRootStorePolicy}

// issuanceRegistry is what every end-entity certificate is linted with
// before the CA key signs it.
var issuanceRegistry = sync.OnceValues(func() (zl.Registry, error) {
	return zl.GlobalRegistry().Filter(zl.FilterOptions{ExcludeNames: []string{emudhraLint}, ExcludeSources: tlsOnlySources})
})

func lintDER(der []byte, reg zl.Registry) error {
	zc, err := zx509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("%w: zlint cannot parse the certificate: %v", ErrLint, err)
	}
	rs := zlint.LintCertificateEx(zc, reg)
	var findings []string
	for name, r := range rs.Results {
		if r.Status == zl.Warn || r.Status == zl.Error || r.Status == zl.Fatal {
			f := fmt.Sprintf("%s %s", r.Status, name)
			if r.Details != "" {
				f += " (" + r.Details + ")"
			}
			findings = append(findings, f)
		}
	}
	if len(findings) > 0 {
		sort.Strings(findings)
		return fmt.Errorf("%w: %s", ErrLint, strings.Join(findings, "; "))
	}
	return nil
}

// tbsKey returns the in-memory P-256 key that lets crypto/x509 build the
// TBSCertificate cheaply (see [Service.check]). It lives for the life of the
// process and certifies nothing anyone will see: the bytes it signs are cut
// off before the copy is linted.
func (s *Service) tbsKey() (crypto.Signer, error) {
	s.lintKeys.mu.Lock()
	defer s.lintKeys.mu.Unlock()
	if s.lintKeys.key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), s.opts.rand())
		if err != nil {
			return nil, fmt.Errorf("lint: throwaway key: %w", err)
		}
		s.lintKeys.key = k
	}
	return s.lintKeys.key, nil
}
