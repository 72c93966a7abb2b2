package catalogue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/thiqa/thiqa/store"
)

// Format is a file format of the catalogue.
type Format string

// Formats of import and export.
const (
	CSV   Format = "csv"
	JSONL Format = "jsonl"
)

// ParseFormat accepts "csv" and "jsonl" (or "ndjson").
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "csv":
		return CSV, nil
	case "jsonl", "ndjson":
		return JSONL, nil
	}
	return "", fmt.Errorf("%w: format %q: want csv or jsonl", ErrInvalid, s)
}

// Columns are the CSV columns, in the order Export writes them. Import
// takes them in any order; code, agency, name_ar, name_en, fee_fils and
// channel are required. Documents are separated by "|"; booleans are
// true/false (also yes/no, 1/0).
var Columns = []string{"code", "agency", "name_ar", "name_en", "description_ar", "description_en",
	"fee_fils", "channel", "documents", "signature_required", "sealed"}

var requiredColumns = []string{"code", "agency", "name_ar", "name_en", "fee_fils", "channel"}

// Limits of an import.
const (
	// MaxServices bounds the services of one file.
	MaxServices = 10000
	// MaxLine bounds a JSONL line or a CSV record, in bytes.
	MaxLine = 64 << 10
	// maxErrors is how many line errors an import reports at most.
	maxErrors = 20
)

// LineError is an error in one line of an import file.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// DecodeOptions configure Decode.
type DecodeOptions struct {
	// Progress, when set, is called as input is read with the bytes read
	// so far.
	Progress func(read int64)
}

// Decode reads and checks every service of a catalogue file. On bad input
// it returns an error wrapping ErrInvalid that joins the [LineError]s of
// the first bad lines (at most 20).
func Decode(r io.Reader, f Format, opts DecodeOptions) ([]Service, error) {
	cr := &countingReader{r: r, progress: opts.Progress}
	var svcs []Service
	var errs []error
	add := func(line int, s Service, err error) bool {
		if err == nil {
			err = Validate(&s)
		}
		if err != nil {
			errs = append(errs, &LineError{Line: line, Err: err})
		} else {
			svcs = append(svcs, s)
		}
		return len(errs) < maxErrors
	}
	var err error
	switch f {
	case CSV:
		err = decodeCSV(cr, add)
	case JSONL:
		err = decodeJSONL(cr, add)
	default:
		err = fmt.Errorf("%w: format %q", ErrInvalid, f)
	}
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		errs = duplicates(svcs)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return svcs, nil
}

func duplicates(svcs []Service) []error {
	seen := map[string]int{}
	var errs []error
	for i, s := range svcs {
		if j, ok := seen[s.Code]; ok {
			errs = append(errs, fmt.Errorf("service %s: given twice (records %d and %d)", s.Code, j+1, i+1))
		}
		seen[s.Code] = i
	}
	return errs
}

type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(c.n)
	}
	return n, err
}

func decodeCSV(r io.Reader, add func(int, Service, error) bool) error {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3) // a byte order mark, as spreadsheets write
	}
	cr := csv.NewReader(&lineLimiter{r: br})
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return &LineError{Line: 1, Err: errors.New("empty file: want a header row")}
	}
	if err != nil {
		return &LineError{Line: 1, Err: err}
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if !containsStr(Columns, h) {
			return &LineError{Line: 1, Err: fmt.Errorf("unknown column %q", h)}
		}
		if _, dup := col[h]; dup {
			return &LineError{Line: 1, Err: fmt.Errorf("column %q twice", h)}
		}
		col[h] = i
	}
	for _, req := range requiredColumns {
		if _, ok := col[req]; !ok {
			return &LineError{Line: 1, Err: fmt.Errorf("missing column %q", req)}
		}
	}
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return &LineError{Line: pe.Line, Err: pe.Err}
			}
			return err
		}
		line, _ := cr.FieldPos(0)
		if n >= MaxServices {
			return &LineError{Line: line, Err: fmt.Errorf("more than %d services", MaxServices)}
		}
		if len(rec) != len(header) {
			if !add(line, Service{}, fmt.Errorf("%d fields, want %d", len(rec), len(header))) {
				return nil
			}
			continue
		}
		s, err := fromRecord(rec, col)
		if !add(line, s, err) {
			return nil
		}
	}
}

// lineLimiter fails a read once more than MaxLine bytes pass without a
// newline, so a huge quoted field cannot take the memory.
type lineLimiter struct {
	r   *bufio.Reader
	run int
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, c := range p[:n] {
		if c == '\n' {
			l.run = 0
		} else if l.run++; l.run > MaxLine {
			return 0, fmt.Errorf("a line is longer than %d bytes", MaxLine)
		}
	}
	return n, err
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fromRecord(rec []string, col map[string]int) (Service, error) {
	get := func(name string) string {
		if i, ok := col[name]; ok {
			return rec[i]
		}
		return ""
	}
	s := Service{Code: get("code"), Agency: get("agency"), NameAr: get("name_ar"), NameEn: get("name_en"),
		DescriptionAr: get("description_ar"), DescriptionEn: get("description_en"), Channel: get("channel")}
	fee, err := strconv.ParseInt(strings.TrimSpace(get("fee_fils")), 10, 64)
	if err != nil {
		return s, fmt.Errorf("fee_fils %q: want a whole number of fils", get("fee_fils"))
	}
	s.FeeFils = fee
	if d := strings.TrimSpace(get("documents")); d != "" {
		s.Documents = strings.Split(d, "|")
	}
	if s.SignatureRequired, err = parseBool("signature_required", get("signature_required")); err != nil {
		return s, err
	}
	if s.Sealed, err = parseBool("sealed", get("sealed")); err != nil {
		return s, err
	}
	return s, nil
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "1":
		return true, nil
	case "false", "no", "0", "":
		return false, nil
	}
	return false, fmt.Errorf("%s %q: want true or false", name, v)
}

// jsonService is the JSONL record: the service without the store's
// bookkeeping, unknown fields refused.
type jsonService struct {
	Code              string   `json:"code"`
	Agency            string   `json:"agency"`
	NameAr            string   `json:"name_ar"`
	NameEn            string   `json:"name_en"`
	DescriptionAr     string   `json:"description_ar,omitempty"`
	DescriptionEn     string   `json:"description_en,omitempty"`
	FeeFils           int64    `json:"fee_fils"`
	Channel           string   `json:"channel"`
	Documents         []string `json:"documents,omitempty"`
	SignatureRequired bool     `json:"signature_required"`
	Sealed            bool     `json:"sealed"`
}

func decodeJSONL(r io.Reader, add func(int, Service, error) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	n := 0
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if n++; n > MaxServices {
			return &LineError{Line: line, Err: fmt.Errorf("more than %d services", MaxServices)}
		}
		var j jsonService
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err := dec.Decode(&j)
		if err == nil && dec.More() {
			err = errors.New("more than one JSON value on the line")
		}
		if !add(line, Service(fromJSON(j)), err) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

func fromJSON(j jsonService) store.CatalogueService {
	return store.CatalogueService{Code: j.Code, Agency: j.Agency, NameAr: j.NameAr, NameEn: j.NameEn,
		DescriptionAr: j.DescriptionAr, DescriptionEn: j.DescriptionEn, FeeFils: j.FeeFils, Channel: j.Channel,
		Documents: j.Documents, SignatureRequired: j.SignatureRequired, Sealed: j.Sealed}
}

func toJSON(s Service) jsonService {
	return jsonService{Code: s.Code, Agency: s.Agency, NameAr: s.NameAr, NameEn: s.NameEn,
		DescriptionAr: s.DescriptionAr, DescriptionEn: s.DescriptionEn, FeeFils: s.FeeFils, Channel: s.Channel,
		Documents: s.Documents, SignatureRequired: s.SignatureRequired, Sealed: s.Sealed}
}

// Encode writes services in format f.
func Encode(w io.Writer, f Format, svcs []Service) error {
	switch f {
	case CSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(Columns); err != nil {
			return err
		}
		for _, s := range svcs {
			rec := []string{s.Code, s.Agency, s.NameAr, s.NameEn, s.DescriptionAr, s.DescriptionEn,
				strconv.FormatInt(s.FeeFils, 10), s.Channel, strings.Join(s.Documents, "|"),
				strconv.FormatBool(s.SignatureRequired), strconv.FormatBool(s.Sealed)}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case JSONL:
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, s := range svcs {
			if err := enc.Encode(toJSON(s)); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: format %q", ErrInvalid, f)
}

// Import reads a catalogue file and upserts its services by code, all or
// none: a file with any bad line changes nothing.
func (c *Catalogue) Import(ctx context.Context, r io.Reader, f Format, opts DecodeOptions) (store.CatalogueChanges, error) {
	svcs, err := Decode(r, f, opts)
	if err != nil {
		return store.CatalogueChanges{}, fmt.Errorf("import catalogue: %w", err)
	}
	ch, err := c.Put(ctx, svcs...)
	if err != nil {
		return store.CatalogueChanges{}, fmt.Errorf("import catalogue: %w", err)
	}
	return ch, nil
}

// Export writes the whole catalogue in format f, in order of code.
func (c *Catalogue) Export(ctx context.Context, w io.Writer, f Format) error {
	var all []Service
	for p := (store.Page{Limit: 1000}); ; {
		page, err := c.st.CatalogueServices(ctx, p)
		if err != nil {
			return fmt.Errorf("export catalogue: %w", err)
		}
		all = append(all, page...)
		if len(page) < p.Limit {
			break
		}
		p.After = page[len(page)-1].Code
	}
	if err := Encode(w, f, all); err != nil {
		return fmt.Errorf("export catalogue: %w", err)
	}
	return nil
}
