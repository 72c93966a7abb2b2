//go:debug x509negativeserial=1

package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/signer/validate"
)

// Exit statuses of thiqa verify.
const (
	verifyPassed        = 0
	verifyFailed        = 1
	verifyIndeterminate = 2
	verifyUsage         = 3
)

func newVerifyCmd(g *globals) *cobra.Command {
	var (
		trustFiles []string
		format     string
		online     bool
		at         string
		noDefault  bool
	)
	cmd := &cobra.Command{
		Use:   "verify [--trust FILE]... [--format text|json|xml] [--online] FILE...",
		Short: "Validate the signatures of signed PDF files (ETSI EN 319 102-1 verdicts)",
		Long: `verify validates every signature and document time-stamp of each PDF: byte
ranges, digests, signature values, certificate chains, revocation (embedded,
or fetched with --online), time-stamps, the PAdES level, and what later
revisions changed. Each signature gets TOTAL-PASSED, TOTAL-FAILED or
INDETERMINATE with a sub-indication and an explanation in English and Arabic.

Trust: Thiqa's own root is trusted when the data directory (--data) exists
and is not in use by a running server; --trust adds PEM bundles of roots.

Output: --format text (default), json (one report, or an array for several
files; schema in docs/VERIFY-REPORT.md) or xml (an ETSI TS 119 102-2
validation report per file).

Exit status: 0 when every signature of every file is TOTAL-PASSED, 1 when
any failed, 2 when any is indeterminate (or a file could not be read), 3 on
a usage error.`,
		Example: `  thiqa verify contract.pdf
  thiqa verify --trust agency-roots.pem --format json inbox/*.pdf
  thiqa verify --online --at 2026-01-31T12:00:00Z old.pdf`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return exitError{verifyUsage, errors.New("verify: no files given")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, files []string) error {
			if format != "text" && format != "json" && format != "xml" {
				return exitError{verifyUsage, fmt.Errorf("verify: --format %q (want text, json or xml)", format)}
			}
			opts := &validate.Options{Online: online}
			if at != "" {
				t, err := parseAt(at)
				if err != nil {
					return exitError{verifyUsage, err}
				}
				opts.Time = t
			}
			for _, f := range trustFiles {
				certs, err := readPEMCerts(f)
				if err != nil {
					return exitError{verifyUsage, err}
				}
				opts.TrustAnchors = append(opts.TrustAnchors, certs...)
			}
			if !noDefault {
				root, note := g.thiqaRoot(cmd)
				if root != nil {
					opts.TrustAnchors = append(opts.TrustAnchors, root)
				} else if note != "" && len(trustFiles) == 0 {
					fmt.Fprintln(cmd.ErrOrStderr(), "thiqa verify:", note)
				}
			}
			return runVerify(cmd, files, opts, format)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return exitError{verifyUsage, err} })
	f := cmd.Flags()
	f.StringArrayVar(&trustFiles, "trust", nil, "PEM file of trusted root certificates (repeatable)")
	f.StringVar(&format, "format", "text", "output format: text, json or xml")
	f.BoolVar(&online, "online", false, "fetch OCSP responses and CRLs when the file carries none")
	f.StringVar(&at, "at", "", "validation time (RFC 3339 or YYYY-MM-DD; default now)")
	f.BoolVar(&noDefault, "no-default-trust", false, "do not trust the data directory's root")
	return cmd
}

func parseAt(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("verify: --at %q is not RFC 3339 or YYYY-MM-DD", s)
}

func readPEMCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read trust file: %w", err)
	}
	var out []*x509.Certificate
	for len(b) > 0 {
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
			return nil, fmt.Errorf("read trust file %s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read trust file %s: no PEM certificate", path)
	}
	return out, nil
}

// thiqaRoot returns the root certificate of the data directory's CA, or
// a note saying why there is none.
func (g *globals) thiqaRoot(cmd *cobra.Command) (*x509.Certificate, string) {
	if _, err := os.Stat(g.dataDir); err != nil {
		return nil, ""
	}
	n, _, err := node.Open(cmd.Context(), g.nodeOptions(false, nil))
	if errors.Is(err, node.ErrLocked) {
		return nil, "the data directory is in use by a running server; Thiqa's root is not trusted (pass --trust with GET /ca/root.pem)"
	}
	if err != nil {
		return nil, "Thiqa's root is not trusted: " + err.Error()
	}
	defer n.Close()
	root, err := n.CA.AuthorityCertificate("root")
	if err != nil {
		return nil, "Thiqa's root is not trusted: " + err.Error()
	}
	return root, ""
}

type verifyResult struct {
	rep *validate.Report
	err error
}

// runVerify validates the files on a few workers and prints the reports
// in order.
func runVerify(cmd *cobra.Command, files []string, opts *validate.Options, format string) error {
	results := make([]verifyResult, len(files))
	done := make([]chan struct{}, len(files))
	for i := range done {
		done[i] = make(chan struct{})
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				o := *opts
				o.Name = files[i]
				rep, err := validate.ValidateFile(cmd.Context(), files[i], &o)
				results[i] = verifyResult{rep, err}
				close(done[i])
			}
		}()
	}
	go func() {
		for i := range files {
			next <- i
		}
		close(next)
	}()
	defer wg.Wait()
	out := cmd.OutOrStdout()
	progress := newProgress(cmd.ErrOrStderr(), len(files))
	var reports []*validate.Report
	status := verifyPassed
	for i := range files {
		<-done[i]
		progress.step(files[i])
		r := results[i]
		if r.err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "thiqa verify: %v\n", r.err)
			status = worstStatus(status, verifyIndeterminate)
			continue
		}
		status = worstStatus(status, statusOf(r.rep.Indication))
		switch format {
		case "json":
			reports = append(reports, r.rep)
		case "xml":
			if err := r.rep.WriteXML(out); err != nil {
				return err
			}
		default:
			progress.clear()
			if err := r.rep.WriteText(out); err != nil {
				return err
			}
			fmt.Fprintln(out)
		}
	}
	progress.clear()
	if format == "json" {
		e := json.NewEncoder(out)
		e.SetIndent("", "  ")
		var v any = reports
		if len(files) == 1 && len(reports) == 1 {
			v = reports[0]
		}
		if err := e.Encode(v); err != nil {
			return err
		}
	}
	if status != verifyPassed {
		return exitError{status, fmt.Errorf("verify: %s", map[int]string{verifyFailed: "a signature failed", verifyIndeterminate: "a signature could not be confirmed"}[status])}
	}
	return nil
}

func statusOf(ind validate.Indication) int {
	switch ind {
	case validate.TotalPassed:
		return verifyPassed
	case validate.TotalFailed:
		return verifyFailed
	}
	return verifyIndeterminate
}

// worstStatus orders exit statuses: failed over indeterminate over passed.
func worstStatus(a, b int) int {
	rank := map[int]int{verifyPassed: 0, verifyIndeterminate: 1, verifyFailed: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// progress draws a one-line progress bar on a terminal when there are
// many files.
type progress struct {
	w     io.Writer
	total int
	n     int
	on    bool
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total}
	if f, ok := w.(*os.File); ok && total > 3 {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) step(name string) {
	p.n++
	if !p.on {
		return
	}
	const width = 30
	fill := width * p.n / p.total
	if len(name) > 40 {
		name = "…" + name[len(name)-39:]
	}
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %-40s", strings.Repeat("#", fill), strings.Repeat(".", width-fill), p.n, p.total, name)
}

func (p *progress) clear() {
	if p.on {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 80))
	}
}
