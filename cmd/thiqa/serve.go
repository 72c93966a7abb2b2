package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/api"
	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/internal/node"
)

func newServeCmd(g *globals) *cobra.Command {
	var (
		addr                    string
		cfg                     *ca.Config
		issuer                  = os.Getenv("THIQA_ISSUER")
		tlsCert, tlsKey, caFile string
		rpID                    string
		origins                 []string
		openPayments            func(context.Context, *node.Node) error
		setLimits               func(*node.Options) error
		noLimits                bool
		proxies                 []string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve Thiqa over HTTP (creates the data directory on first start)",
		Long: `serve opens the data directory — creating it and running the key ceremony
when it is missing — and serves HTTP on --addr:

  GET  /ca/{name}.cer|.pem   CA certificates (root, citizen-ca, org-ca, tsu, …)
  GET  /crl/{name}.crl       CRLs of root, citizen-ca and org-ca
  POST /ocsp, GET /ocsp/…    OCSP responder (RFC 6960)
  POST /tsa                  time-stamping authority (RFC 3161)
  GET  /audit/checkpoint     signed checkpoint of the audit log (every minute)
  GET  /audit/proof/…        audit inclusion and consistency proofs
  GET  /healthz              liveness
  /oidc/…                    OpenID Connect provider (discovery, authorize, token, …)

Operator commands (thiqa ca …) reach a running server through the admin
socket <data>/admin.sock, which only the owner of the data directory can use.
The ceremony flags (--organization, --public-url, …) apply only when serve
creates a new data directory; by default the public URL is http://<addr>.

--issuer (env THIQA_ISSUER) is the OpenID provider's public issuer URL,
the same on every replica, served at /oidc behind it. Its sign-in page asks
for a passkey, so the passkey relying party follows it: its host is the
WebAuthn RP ID and its origin the passkey origin. By default the issuer is
http://localhost:8080/oidc, the default passkey origin, whatever --addr is:
a browser gives passkeys only to that origin. --webauthn-rp-id and
--webauthn-origin set the passkey relying party explicitly (several origins
may be given); with --issuer they must agree with it.

With --tls-cert and --tls-key serve speaks HTTPS, and agencies may
authenticate by mutual TLS with their e-seal certificate (registered with
thiqa agency add), which must chain to --client-ca or, by default, Thiqa's
organisation CA.`,
		Example: `  thiqa serve
  thiqa serve --addr 0.0.0.0:8080 --public-url http://pki.example.jo --data /var/lib/thiqa
  thiqa serve --store postgres://thiqa@db/thiqa --issuer https://id.example.jo/oidc
  thiqa serve --addr 0.0.0.0:8443 --tls-cert tls.crt --tls-key tls.key \
      --webauthn-rp-id thiqa.example.jo --webauthn-origin https://thiqa.example.jo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("public-url") {
				// http even with TLS: CRL and CA issuer URLs are plain
				// HTTP (RFC 5280), which the certificate lint demands.
				cfg.PublicURL = "http://" + addr
			}
			ctx := cmd.Context()
			opts := g.nodeOptions(true, cfg)
			opts.Issuer = issuer
			if err := setLimits(&opts); err != nil {
				return err
			}
			opts.WebAuthnRPID, opts.WebAuthnOrigins = rpID, origins
			if !noLimits {
				trusted, err := parsePrefixes(proxies)
				if err != nil {
					return fmt.Errorf("--trusted-proxy: %w", err)
				}
				opts.RateLimits = &api.RateLimits{TrustedProxies: trusted}
			}
			n, created, err := node.Open(ctx, opts)
			if err != nil {
				return err
			}
			defer n.Close()
			if err := openPayments(ctx, n); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			printCreated(out, n, created)
			if sealed, err := n.Enrollment.SealTOTPSecrets(ctx); err != nil {
				return err
			} else if sealed > 0 {
				fmt.Fprintf(out, "sealed the TOTP secrets of %d officers in key custody\n", sealed)
			}

			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", addr, err)
			}
			admin, err := listenAdmin(n.AdminSocket())
			if err != nil {
				ln.Close()
				return err
			}
			logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
			n.Logger = logger
			handler, scheme := n.Handler(), "http"
			if tlsCert != "" || tlsKey != "" {
				tlsCfg, wrap, err := n.TLS(tlsCert, tlsKey, caFile)
				if err != nil {
					ln.Close()
					admin.Close()
					return err
				}
				ln, handler, scheme = tls.NewListener(ln, tlsCfg), wrap(handler), "https"
			}
			public := &http.Server{
				Handler:           handler,
				ReadHeaderTimeout: 10 * time.Second,
				ReadTimeout:       time.Minute,
				WriteTimeout:      2 * time.Minute,
				IdleTimeout:       2 * time.Minute,
				MaxHeaderBytes:    64 << 10,
				ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
			}
			adminSrv := &http.Server{Handler: n.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
			errc := make(chan error, 2)
			go func() { errc <- public.Serve(ln) }()
			go func() { errc <- adminSrv.Serve(admin) }()
			go n.CA.RunCRLs(ctx, time.Hour, func(err error) { logger.Error("CRL refresh", "err", err) })
			go n.CA.RunStatusSync(ctx, 250*time.Millisecond, func(err error) { logger.Error("status sync", "err", err) })
			go n.Audit.Run(ctx, time.Minute, func(err error) { logger.Error("audit checkpoint", "err", err) })
			go n.RunAuditCatchUp(ctx, time.Minute, func(err error) { logger.Error("audit catch-up", "err", err) })
			// Webhook deliveries and the recovery of interrupted signing.
			go n.Signing.Run(ctx, time.Second, func(err error) { logger.Error("signing worker", "err", err) })

			base := scheme + "://" + ln.Addr().String()
			fmt.Fprintf(out, "serving on %s\n", base)
			fmt.Fprintf(out, "  CA bundle  %s/ca/bundle.pem\n  OCSP       %s/ocsp\n  TSA        %s/tsa\n  CRL        %s/crl/citizen-ca.crl\n  admin      %s\n",
				base, base, base, base, n.AdminSocket())

			select {
			case <-ctx.Done():
			case err := <-errc:
				if !errors.Is(err, http.ErrServerClosed) {
					return err
				}
			}
			shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			adminSrv.Shutdown(shutdown)
			err = public.Shutdown(shutdown)
			os.Remove(n.AdminSocket())
			fmt.Fprintln(out, "stopped")
			return err
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to serve HTTP on")
	cmd.Flags().StringVar(&tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate chain (with --tls-key)")
	cmd.Flags().StringVar(&tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	cmd.Flags().StringVar(&caFile, "client-ca", "", "PEM CAs of agencies' client certificates for mutual TLS (default: Thiqa's organisation CA, which issues e-seals)")
	cmd.Flags().StringVar(&rpID, "webauthn-rp-id", "", `passkey relying party ID: the site's domain (default "localhost")`)
	cmd.Flags().StringSliceVar(&proxies, "trusted-proxy", nil, "address or CIDR of a reverse proxy in front of serve, repeatable: from it the client's address is read from X-Forwarded-For for rate limits")
	cmd.Flags().BoolVar(&noLimits, "no-rate-limits", false, "do not limit activation and sign-in attempts per address, national number and officer, validations at /api/v1/verify per address, nor OpenID authorization requests per address and agency (load tests from one address)")
	cmd.Flags().StringSliceVar(&origins, "webauthn-origin", nil, `origin the app and pages are served from, repeatable (default "http://localhost:8080")`)
	cmd.Flags().StringVar(&issuer, "issuer", issuer, "public issuer URL of the OpenID provider, e.g. https://id.example.jo/oidc; sets the passkey relying party (env THIQA_ISSUER; default http://localhost:8080/oidc)")
	cfg = caFlags(cmd)
	storeFlag(cmd)
	openPayments = paymentsFlags(cmd)
	setLimits = limitFlags(cmd)
	return cmd
}

// parsePrefixes parses addresses and CIDR prefixes.
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range list {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix", v)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// listenAdmin listens on the admin socket, owner-only. A socket file left by
// a server that died is removed; one that answers means another server runs.
func listenAdmin(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another thiqa serve answers on %s", path)
	}
	os.Remove(path)
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return ln, nil
}
