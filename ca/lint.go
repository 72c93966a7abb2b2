package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"sort"
	"strings"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	zl "github.com/zmap/zlint/v3/lint"
)

// lint runs every zlint lint on cert and refuses any error, warning or
// fatal result.
func lint(cert *x509.Certificate) error {
	return lintDER(cert.Raw)
}

func lintDER(der []byte) error {
	zc, err := zx509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("%w: zlint cannot parse the certificate: %v", ErrLint, err)
	}
	rs := zlint.LintCertificate(zc)
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

// throwaway returns the throwaway key on the same curve as the issuer's
// key, generating it on first use. It lives in memory for the life of the
// process and certifies nothing anyone will see.
func (s *Service) throwaway(issuer crypto.PublicKey) (crypto.Signer, error) {
	pub, ok := issuer.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("lint: issuer key type %T not supported", issuer)
	}
	name := pub.Curve.Params().Name
	s.lintKeys.mu.Lock()
	defer s.lintKeys.mu.Unlock()
	if k, ok := s.lintKeys.keys[name]; ok {
		return k, nil
	}
	k, err := ecdsa.GenerateKey(pub.Curve, s.opts.rand())
	if err != nil {
		return nil, fmt.Errorf("lint: throwaway key: %w", err)
	}
	if s.lintKeys.keys == nil {
		s.lintKeys.keys = map[string]crypto.Signer{}
	}
	s.lintKeys.keys[name] = k
	return k, nil
}
