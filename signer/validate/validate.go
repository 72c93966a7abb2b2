package validate

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/thiqa/thiqa/signer/internal/pdf"
)

// ValidateFile validates the PDF at path; see [Validate].
func ValidateFile(ctx context.Context, path string, opts *Options) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("validate %s: %w: %w", path, ErrRead, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("validate %s: %w: %w", path, ErrRead, err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = path
	}
	return Validate(ctx, f, st.Size(), &o)
}

// Validate validates every signature and document time-stamp of the PDF
// in r (size bytes). A malformed or hostile file gives a report whose
// verdicts say so; the error is non-nil only for bad options, a file over
// Limits.MaxFileSize or a failing reader.
func Validate(ctx context.Context, r io.ReaderAt, size int64, opts *Options) (*Report, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.RevocationFreshness < 0 {
		return nil, fmt.Errorf("%w: negative revocation freshness", ErrOptions)
	}
	if o.RevocationFreshness == 0 {
		o.RevocationFreshness = 24 * time.Hour
	}
	o.Limits = o.Limits.withDefaults()
	if size > o.Limits.MaxFileSize {
		return nil, fmt.Errorf("validate: %w: %d bytes (limit %d)", ErrTooLarge, size, o.Limits.MaxFileSize)
	}
	if size < 0 {
		return nil, fmt.Errorf("%w: negative size", ErrOptions)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Limits.Timeout)
	defer cancel()
	d := &doc{ctx: ctx, r: r, size: size, opts: &o, lim: o.Limits, now: o.now(), cache: pdf.NewCache(0)}
	d.rep = &Report{Schema: SchemaVersion, File: o.Name, Size: size, ValidationTime: d.now, Signatures: []Signature{}, Modifications: []Modification{}}
	if err := d.hashFile(); err != nil {
		return nil, err
	}
	d.run()
	d.finish()
	return d.rep, nil
}

// doc is the state of one validation.
type doc struct {
	ctx  context.Context
	r    io.ReaderAt
	size int64
	opts *Options
	lim  Limits
	now  time.Time
	rep  *Report

	final    *pdf.Reader
	revEnds  []int64       // ends of the readable revisions, ascending
	revs     []*pdf.Reader // reader of each revision
	sigs     []*sig
	pool     certPool
	anchors  anchorSet
	rev      revocationData
	diffs    []revDiff // diffs[i] compares revision i with i+1
	docMDP   int       // permission of the certification signature, 0 if none
	certRev  int       // revision of the certification signature
	poeAdded bool
	sigCache map[string]bool // certificate signature checks done
	// cache is shared by the readers of all revisions: the walks of
	// modification analysis would otherwise parse every object (large
	// signature /Contents included) again for each revision, which a
	// file with many revisions turns into minutes of work.
	cache *pdf.Cache
}

func (d *doc) hashFile() error {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(d.r, 0, d.size)); err != nil {
		return fmt.Errorf("validate: %w: %w", ErrRead, err)
	}
	d.rep.SHA256 = hex.EncodeToString(h.Sum(nil))
	return nil
}

func (d *doc) fail(ind Indication, sub SubIndication, problem string) {
	d.rep.Indication, d.rep.SubIndication, d.rep.Problem = ind, sub, problem
}

func (d *doc) run() {
	popts := &pdf.Options{Limits: pdf.Limits{MaxObjects: 4_000_000}, Cache: d.cache}
	final, err := pdf.Open(d.r, d.size, popts)
	if err != nil {
		if errors.Is(err, pdf.ErrEncrypted) {
			d.fail(Indeterminate, FormatFailure, "open: encrypted documents are not validated: "+err.Error())
			return
		}
		d.fail(TotalFailed, FormatFailure, "open: "+err.Error())
		return
	}
	d.final = final
	if err := d.openRevisions(); err != nil {
		d.fail(Indeterminate, Generic, err.Error())
		return
	}
	d.rep.Revisions = len(d.revEnds)
	d.anchors = newAnchorSet(d.opts.TrustAnchors)
	d.discover()
	if len(d.sigs) == 0 {
		d.fail(Indeterminate, SignedDataNotFound, "no signature found in the form fields of any revision")
		return
	}
	d.readDSS()
	d.checkPageTrees()
	for _, s := range d.sigs {
		if err := d.ctx.Err(); err != nil {
			s.setVerdict(Indeterminate, Generic, "validation stopped: "+err.Error())
			continue
		}
		d.checkIntegrity(s)
	}
	d.checkTSURevocation()
	d.findDocMDP()
	d.analyseModifications()
	for _, s := range d.sigs {
		if err := d.ctx.Err(); err != nil {
			s.setVerdict(Indeterminate, Generic, "validation stopped: "+err.Error())
			continue
		}
		d.checkTrust(s)
	}
	d.assignLevels()
	for _, s := range d.sigs {
		d.judgeModifications(s)
		s.conclude()
	}
	if first := d.firstSignature(); first != nil {
		for i := range d.rep.Modifications {
			d.rep.Modifications[i].Allowed, _ = d.permitted(d.rep.Modifications[i], first)
		}
	}
}

// openRevisions finds the revisions of the file: each "%%EOF" after which
// the file opens as a PDF on its own.
func (d *doc) openRevisions() error {
	ends, err := d.final.Revisions()
	if err != nil {
		return fmt.Errorf("find revisions: %w", err)
	}
	if len(ends) == 0 || ends[len(ends)-1] < d.size {
		ends = append(ends, d.size)
	}
	if len(ends) > d.lim.MaxRevisions {
		return fmt.Errorf("find revisions: %d revisions (limit %d)", len(ends), d.lim.MaxRevisions)
	}
	for _, end := range ends {
		if end == d.size {
			d.revEnds = append(d.revEnds, end)
			d.revs = append(d.revs, d.final)
			continue
		}
		rd, err := pdf.Open(io.NewSectionReader(d.r, 0, end), end, &pdf.Options{NoRecover: true, Cache: d.cache})
		if err != nil {
			continue // a "%%EOF" inside data, or a broken early revision
		}
		d.revEnds = append(d.revEnds, end)
		d.revs = append(d.revs, rd)
	}
	return nil
}

// revisionOf returns the index of the revision that ends at end (allowing
// the end-of-line after "%%EOF" to be left out), or -1.
func (d *doc) revisionOf(end int64) int {
	i := sort.Search(len(d.revEnds), func(i int) bool { return d.revEnds[i] >= end })
	if i == len(d.revEnds) {
		return -1
	}
	if d.revEnds[i] == end {
		return i
	}
	if d.revEnds[i]-end > 2 {
		return -1
	}
	b := make([]byte, d.revEnds[i]-end)
	if _, err := d.r.ReadAt(b, end); err != nil {
		return -1
	}
	for _, c := range b {
		if c != '\r' && c != '\n' {
			return -1
		}
	}
	return i
}

func (d *doc) finish() {
	rep := d.rep
	for _, s := range d.sigs {
		rep.Signatures = append(rep.Signatures, *s.rep)
	}
	if rep.Indication == "" {
		rep.Indication, rep.SubIndication = TotalPassed, ""
		for _, s := range rep.Signatures {
			if worse(s.Indication, rep.Indication) {
				rep.Indication, rep.SubIndication = s.Indication, s.SubIndication
			}
		}
	}
	rep.Explanation = documentText(rep)
}

// worse orders indications: TOTAL-FAILED over INDETERMINATE over
// TOTAL-PASSED.
func worse(a, b Indication) bool {
	rank := map[Indication]int{TotalPassed: 0, Indeterminate: 1, TotalFailed: 2}
	return rank[a] > rank[b]
}

func certSummary(c *x509.Certificate) Certificate {
	h := sha256.Sum256(c.Raw)
	return Certificate{
		Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.Text(16),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), SHA256: hex.EncodeToString(h[:]),
	}
}

// Validator validates with fixed options; it is the dependency the HTTP
// API's verify endpoint is given.
type Validator struct {
	Options Options
}

// Validate validates the PDF in r (size bytes); see [Validate].
func (v *Validator) Validate(ctx context.Context, r io.ReaderAt, size int64) (*Report, error) {
	o := v.Options
	return Validate(ctx, r, size, &o)
}
