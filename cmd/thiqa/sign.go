package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/signer"
	"software.sslmate.com/src/go-pkcs12"
)

// signFlags are the flags of "thiqa sign".
type signFlags struct {
	in, out, key, cert, chain, level, tsa string
	reason, location, visible, nameAr     string
	verifyURL, passFile                   string
	certify                               int
	g                                     *globals // nil: no custody keys
}

// newSignCmdWith is the sign command; it also takes "--key custody:ID", a key
// held in the key custody of the data directory of g (the server must be
// stopped: the store admits one process).
func newSignCmdWith(g *globals) *cobra.Command {
	f := &signFlags{g: g}
	cmd := &cobra.Command{
		Use:   "sign --in IN.pdf --out OUT.pdf --key KEY [--cert CERT]",
		Short: "Sign a PDF (PAdES B-B, B-T, B-LT or B-LTA)",
		Example: `  thiqa sign --in contract.pdf --out signed.pdf --key me.key --cert me.pem --chain ca.pem
  thiqa sign --in contract.pdf --out signed.pdf --key me.p12 --level B-LT --tsa http://127.0.0.1:8080/tsa
  thiqa sign --in form.pdf --out sealed.pdf --key custody:eseal-moh --cert eseal.pem \
      --level B-LTA --tsa http://127.0.0.1:8080/tsa --visible 1,350,50,220,80 --name-ar "وزارة الصحة"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, opts, done, err := f.options(cmd)
			if err != nil {
				return err
			}
			defer done()
			if err := signer.SignFile(cmd.Context(), f.in, f.out, key, opts); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s (%v)\n", f.out, opts.Level)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.in, "in", "", "input PDF")
	fl.StringVar(&f.out, "out", "", "output PDF (written through a temporary file)")
	fl.StringVar(&f.key, "key", "", "private key: PEM (PKCS#8, SEC1, PKCS#1), PKCS#12 (.p12/.pfx), or custody:ID")
	fl.StringVar(&f.passFile, "key-password-file", "", "file holding the PKCS#12 password")
	fl.StringVar(&f.cert, "cert", "", "signer certificate (PEM); optional with PKCS#12")
	fl.StringVar(&f.chain, "chain", "", "intermediate (and root) certificates (PEM)")
	fl.StringVar(&f.level, "level", "B-B", "PAdES level: B-B, B-T, B-LT or B-LTA")
	fl.StringVar(&f.tsa, "tsa", "", "RFC 3161 time-stamping URL (needed from B-T)")
	fl.StringVar(&f.reason, "reason", "", "reason for signing")
	fl.StringVar(&f.location, "location", "", "place of signing")
	fl.StringVar(&f.visible, "visible", "", "visible stamp: page,x,y,w,h in points")
	fl.StringVar(&f.nameAr, "name-ar", "", "signer's name in Arabic for the visible stamp")
	fl.StringVar(&f.verifyURL, "verify-url", "", "verification base URL for the stamp's QR code")
	fl.IntVar(&f.certify, "certify", 0, "certification signature with DocMDP permission 1, 2 or 3")
	for _, n := range []string{"in", "out", "key"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

// options loads the key and certificates and builds the signer options;
// done releases the key custody when the key came from it.
func (f *signFlags) options(cmd *cobra.Command) (crypto.Signer, *signer.Options, func(), error) {
	done := func() {}
	level, err := signer.ParseLevel(f.level)
	if err != nil {
		return nil, nil, done, err
	}
	var (
		key   crypto.Signer
		cert  *x509.Certificate
		chain []*x509.Certificate
	)
	if id, ok := strings.CutPrefix(f.key, "custody:"); ok {
		key, done, err = f.custodyKey(cmd, id)
	} else {
		key, cert, chain, err = f.loadKey()
	}
	if err != nil {
		return nil, nil, done, err
	}
	o, err := f.signerOptions(level, cert, chain)
	return key, o, done, err
}

// custodyKey opens the data directory's key custody and returns key id.
func (f *signFlags) custodyKey(cmd *cobra.Command, id string) (crypto.Signer, func(), error) {
	if f.g == nil {
		return nil, func() {}, errors.New("sign: custody keys need the data directory (this build of thiqa sign has none)")
	}
	n, _, err := node.Open(cmd.Context(), f.g.nodeOptions(false, nil))
	if err != nil {
		return nil, func() {}, fmt.Errorf("sign: open key custody: %w", err)
	}
	done := func() { n.Close() }
	k, err := n.Keys.Key(cmd.Context(), hsm.KeyID(id))
	if err != nil {
		done()
		return nil, func() {}, fmt.Errorf("sign: custody key %q: %w", id, err)
	}
	return k, done, nil
}

// signerOptions builds the signer options from the flags.
func (f *signFlags) signerOptions(level signer.Level, cert *x509.Certificate, chain []*x509.Certificate) (*signer.Options, error) {
	var err error
	if f.cert != "" {
		certs, err := readPEMCerts(f.cert)
		if err != nil {
			return nil, fmt.Errorf("sign: --cert: %w", err)
		}
		cert = certs[0]
	}
	if cert == nil {
		return nil, errors.New("sign: no signer certificate (give --cert)")
	}
	if f.chain != "" {
		if chain, err = readPEMCerts(f.chain); err != nil {
			return nil, fmt.Errorf("sign: --chain: %w", err)
		}
	}
	o := &signer.Options{
		Certificate: cert, Chain: chain, Level: level, Certify: f.certify,
		Reason: f.reason, Location: f.location,
	}
	if level >= signer.LevelBT {
		if f.tsa == "" {
			return nil, fmt.Errorf("sign: level %v needs --tsa", level)
		}
		o.Timestamper = &signer.HTTPTimestamper{URL: f.tsa}
		o.Revocation = &signer.HTTPRevocation{}
	}
	if f.visible != "" {
		v, err := parseVisible(f.visible)
		if err != nil {
			return nil, err
		}
		o.Visible = v
		o.Appearance = signer.BilingualStamp(signer.StampOptions{
			NameArabic: f.nameAr, NameLatin: cert.Subject.CommonName,
			Reason: f.reason, VerifyBaseURL: f.verifyURL,
		})
	}
	return o, nil
}

func parseVisible(s string) (*signer.Visible, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 5 {
		return nil, fmt.Errorf("sign: --visible %q: want page,x,y,w,h", s)
	}
	page, err := strconv.Atoi(parts[0])
	if err != nil || page < 1 {
		return nil, fmt.Errorf("sign: --visible %q: bad page", s)
	}
	var n [4]float64
	for i, p := range parts[1:] {
		if n[i], err = strconv.ParseFloat(strings.TrimSpace(p), 64); err != nil {
			return nil, fmt.Errorf("sign: --visible %q: %w", s, err)
		}
	}
	return &signer.Visible{Page: page, Rect: [4]float64{n[0], n[1], n[0] + n[2], n[1] + n[3]}}, nil
}

// loadKey reads a PEM or PKCS#12 private key file.
func (f *signFlags) loadKey() (crypto.Signer, *x509.Certificate, []*x509.Certificate, error) {
	b, err := os.ReadFile(f.key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read key: %w", err)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		k, err := parsePrivateKey(blk)
		return k, nil, nil, err
	}
	pass := ""
	if f.passFile != "" {
		p, err := os.ReadFile(f.passFile)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("read key password: %w", err)
		}
		pass = strings.TrimRight(string(p), "\r\n")
	}
	k, cert, chain, err := pkcs12.DecodeChain(b, pass)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read PKCS#12 key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, nil, fmt.Errorf("read PKCS#12 key: %T cannot sign", k)
	}
	return s, cert, chain, nil
}

func parsePrivateKey(blk *pem.Block) (crypto.Signer, error) {
	var k any
	var err error
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("read key: PEM block %q is not a private key", blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("read key: %T cannot sign", k)
	}
	return s, nil
}
