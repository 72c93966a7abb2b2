package catalogue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/thiqa/thiqa/store"
)

// Service is one government service of the catalogue.
type Service = store.CatalogueService

// Store is what the catalogue needs of the store; *store.Bolt and
// *store.Postgres implement it.
type Store interface {
	PutCatalogueServices(ctx context.Context, svcs []store.CatalogueService, now time.Time) (store.CatalogueChanges, error)
	CatalogueService(ctx context.Context, code string) (store.CatalogueService, error)
	CatalogueServices(ctx context.Context, p store.Page) ([]store.CatalogueService, error)
	CatalogueVersion(ctx context.Context) (int64, error)
}

var (
	_ Store = (*store.Bolt)(nil)
	_ Store = (*store.Postgres)(nil)
)

// Errors of the catalogue.
var (
	// ErrNotFound: no service has that code.
	ErrNotFound = errors.New("catalogue: no such service")
	// ErrInvalid: a service record or an import file is not acceptable.
	ErrInvalid = errors.New("catalogue: invalid service")
)

// Options configure a Catalogue; the zero value is usable.
type Options struct {
	// Clock gives the time recorded on changes; nil means time.Now.
	Clock func() time.Time
}

// Catalogue is the service catalogue on a store. Safe for concurrent use.
type Catalogue struct {
	st    Store
	clock func() time.Time

	mu      sync.Mutex
	version int64
	all     []indexed // sorted by code; nil until loaded
}

// indexed is a service with its normalised search text.
type indexed struct {
	svc  Service
	text string
}

// New returns the catalogue kept in st.
func New(st Store, opts Options) *Catalogue {
	c := &Catalogue{st: st, clock: opts.Clock, version: -1}
	if c.clock == nil {
		c.clock = time.Now
	}
	return c
}

// Service returns the service with that code, or an error wrapping
// ErrNotFound.
func (c *Catalogue) Service(ctx context.Context, code string) (Service, error) {
	s, err := c.st.CatalogueService(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return Service{}, fmt.Errorf("%w: %q", ErrNotFound, code)
	}
	return s, err
}

// Put checks and creates or replaces services by code, all or none.
func (c *Catalogue) Put(ctx context.Context, svcs ...Service) (store.CatalogueChanges, error) {
	seen := map[string]bool{}
	for i := range svcs {
		if err := Validate(&svcs[i]); err != nil {
			return store.CatalogueChanges{}, err
		}
		if seen[svcs[i].Code] {
			return store.CatalogueChanges{}, fmt.Errorf("%w: code %s given twice", ErrInvalid, svcs[i].Code)
		}
		seen[svcs[i].Code] = true
	}
	return c.st.PutCatalogueServices(ctx, svcs, c.clock())
}

// Limits of a service record.
const (
	MaxCodeLen      = 32
	MaxNameLen      = 200
	MaxDescLen      = 2000
	MaxDocuments    = 20
	MaxDocumentLen  = 200
	MaxFeeFils      = 1_000_000_000 // one million dinars
	maxAgencyLength = 64
)

// Validate checks s and normalises its spacing (trimmed fields, channel
// in lower case). Its errors wrap ErrInvalid and name the field.
func Validate(s *Service) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	for _, f := range []*string{&s.Code, &s.Agency, &s.NameAr, &s.NameEn, &s.DescriptionAr, &s.DescriptionEn, &s.Channel} {
		*f = strings.TrimSpace(*f)
		if !utf8.ValidString(*f) {
			return bad("text is not valid UTF-8")
		}
	}
	s.Channel = strings.ToLower(s.Channel)
	switch {
	case s.Code == "" || len(s.Code) > MaxCodeLen || !isCode(s.Code):
		return bad("code %q: want 1 to %d of A-Z, 0-9, '-' and '_'", s.Code, MaxCodeLen)
	case s.Agency == "" || len(s.Agency) > maxAgencyLength || !isCode(s.Agency):
		return bad("agency %q: want 1 to %d of A-Z, 0-9, '-' and '_'", s.Agency, maxAgencyLength)
	case s.NameAr == "" || s.NameEn == "":
		return bad("name_ar and name_en are required")
	case utf8.RuneCountInString(s.NameAr) > MaxNameLen || utf8.RuneCountInString(s.NameEn) > MaxNameLen:
		return bad("a name is longer than %d characters", MaxNameLen)
	case utf8.RuneCountInString(s.DescriptionAr) > MaxDescLen || utf8.RuneCountInString(s.DescriptionEn) > MaxDescLen:
		return bad("a description is longer than %d characters", MaxDescLen)
	case s.FeeFils < 0 || s.FeeFils > MaxFeeFils:
		return bad("fee_fils %d: want 0 to %d", s.FeeFils, MaxFeeFils)
	case s.Channel != store.ChannelOnline && s.Channel != store.ChannelCentre:
		return bad("channel %q: want online or centre", s.Channel)
	case len(s.Documents) > MaxDocuments:
		return bad("more than %d documents", MaxDocuments)
	}
	docs := s.Documents[:0:0]
	for _, d := range s.Documents {
		d = strings.TrimSpace(d)
		if d == "" || utf8.RuneCountInString(d) > MaxDocumentLen || !utf8.ValidString(d) {
			return bad("document %q: want 1 to %d characters", d, MaxDocumentLen)
		}
		docs = append(docs, d)
	}
	s.Documents = docs
	if len(s.Documents) == 0 {
		s.Documents = nil
	}
	return nil
}

func isCode(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Query selects services. Zero fields match everything.
type Query struct {
	// Text must occur, after [Normalize], in the code, a name or a
	// description (Arabic or English); every word of it must.
	Text string
	// Agency keeps only the services of that agency.
	Agency string
	// After and Limit page through the matches in order of code (Limit
	// 0 means 50; at most 500).
	After string
	Limit int
}

// Search returns the services that match q, in order of code.
func (c *Catalogue) Search(ctx context.Context, q Query) ([]Service, error) {
	all, err := c.load(ctx)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = 50
	case limit > 500:
		limit = 500
	}
	words := strings.Fields(Normalize(q.Text))
	start := sort.Search(len(all), func(i int) bool { return all[i].svc.Code > q.After })
	out := []Service{}
	for _, s := range all[start:] {
		if len(out) == limit {
			break
		}
		if q.Agency != "" && s.svc.Agency != q.Agency {
			continue
		}
		if !matchAll(s.text, words) {
			continue
		}
		out = append(out, cloneService(s.svc))
	}
	return out, nil
}

// Agencies lists the agencies that have services, sorted.
func (c *Catalogue) Agencies(ctx context.Context) ([]string, error) {
	all, err := c.load(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range all {
		out = append(out, s.svc.Agency)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func matchAll(text string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

func cloneService(s Service) Service {
	s.Documents = slices.Clone(s.Documents)
	return s
}

// load returns the whole catalogue, reloading it when the store's version
// changed.
func (c *Catalogue) load(ctx context.Context) ([]indexed, error) {
	v, err := c.st.CatalogueVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("search catalogue: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.all != nil && v == c.version {
		return c.all, nil
	}
	all := []indexed{}
	for p := (store.Page{Limit: 1000}); ; {
		page, err := c.st.CatalogueServices(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("search catalogue: %w", err)
		}
		for _, s := range page {
			text := Normalize(strings.Join([]string{s.Code, s.Agency, s.NameAr, s.NameEn, s.DescriptionAr, s.DescriptionEn}, " "))
			all = append(all, indexed{svc: s, text: text})
		}
		if len(page) < p.Limit {
			break
		}
		p.After = page[len(page)-1].Code
	}
	c.all, c.version = all, v
	return all, nil
}
