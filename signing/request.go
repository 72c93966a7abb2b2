package signing

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/thiqa/thiqa/internal/natid"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/store"
)

// NewDocument is one PDF of a new request with its options.
type NewDocument struct {
	Name    string `json:"name"`
	Content []byte `json:"content"`
	// Level is B-B, B-T, B-LT (default) or B-LTA.
	Level    string `json:"level,omitempty"`
	Visible  bool   `json:"visible,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Location string `json:"location,omitempty"`
}

// NewRequest asks a citizen to sign documents. A citizen creating a
// request for themselves may leave NationalID empty.
type NewRequest struct {
	NationalID     string        `json:"national_id,omitempty"`
	PurposeAr      string        `json:"purpose_ar"`
	PurposeEn      string        `json:"purpose_en"`
	Documents      []NewDocument `json:"documents"`
	IdempotencyKey string        `json:"-"`
}

// DocumentView is a document as shown to its citizen and agency.
type DocumentView struct {
	Index        int    `json:"index"`
	Name         string `json:"name"`
	Size         int64  `json:"size"`
	SHA256       []byte `json:"sha256"`
	Level        string `json:"level"`
	Visible      bool   `json:"visible"`
	Reason       string `json:"reason,omitempty"`
	Location     string `json:"location,omitempty"`
	DTBS         []byte `json:"dtbs,omitempty"`
	SignedSize   int64  `json:"signed_size,omitempty"`
	SignedSHA256 []byte `json:"signed_sha256,omitempty"`
}

// RequestView is a sign request as shown to its citizen and agency.
type RequestView struct {
	ID     string `json:"id"`
	Agency string `json:"agency,omitempty"`
	// AgencyName is the agency's name, for the citizen to see who asks.
	AgencyName string         `json:"agency_name,omitempty"`
	NationalID string         `json:"national_id"`
	PurposeAr  string         `json:"purpose_ar"`
	PurposeEn  string         `json:"purpose_en"`
	State      string         `json:"state"`
	Reason     string         `json:"reason,omitempty"`
	Documents  []DocumentView `json:"documents"`
	Created    time.Time      `json:"created"`
	Expires    time.Time      `json:"expires"`
	Completed  time.Time      `json:"completed,omitzero"`
}

func (s *Service) view(r store.SignRequest) RequestView {
	v := RequestView{ID: r.ID, Agency: r.Agency, NationalID: r.NationalID, PurposeAr: r.PurposeAr, PurposeEn: r.PurposeEn,
		State: r.State, Reason: r.Reason, Created: r.Created, Expires: r.Expires, Completed: r.Completed,
		Documents: make([]DocumentView, len(r.Documents))}
	if s.expired(r) {
		v.State = store.SignExpired
	}
	for i, d := range r.Documents {
		v.Documents[i] = DocumentView{Index: i, Name: d.Name, Size: d.Size, SHA256: d.SHA256, Level: d.Level, Visible: d.Visible,
			Reason: d.Reason, Location: d.Location, DTBS: d.DTBS, SignedSize: d.SignedSize, SignedSHA256: d.SignedSHA256}
	}
	return v
}

// expired reports whether a pending request is past its expiry.
func (s *Service) expired(r store.SignRequest) bool {
	return r.State == store.SignPending && !s.now().Before(r.Expires)
}

// updateKey is the blob key of a signed document's incremental update.
// Originals are kept under "doc/<sequence>" (SignDocument.Blob), written in
// order at the end of the tree; updates, small, under "upd/".
func updateKey(id string, i int) string { return fmt.Sprintf("upd/%s/%d", id, i) }

func checkText(field, v string, max int, required bool) (string, error) {
	v = strings.TrimSpace(v)
	if (required && v == "") || !utf8.ValidString(v) || utf8.RuneCountInString(v) > max {
		return "", fmt.Errorf("%w: %s must be %d characters at most", ErrInvalid, field, max)
	}
	return v, nil
}

// checkDocument validates one document and returns its record.
func (s *Service) checkDocument(i int, d NewDocument) (store.SignDocument, error) {
	fail := func(format string, a ...any) (store.SignDocument, error) {
		return store.SignDocument{}, fmt.Errorf("%w: document %d: "+format, append([]any{ErrInvalid, i}, a...)...)
	}
	name, err := checkText("name", d.Name, 200, true)
	if err != nil || strings.ContainsAny(name, "/\\\x00\"\r\n") {
		return fail("name must be 1 to 200 characters without / \\ \" or line breaks")
	}
	if int64(len(d.Content)) > s.opts.MaxDocumentSize {
		return store.SignDocument{}, fmt.Errorf("%w: document %d is %d bytes, at most %d", ErrTooMany, i, len(d.Content), s.opts.MaxDocumentSize)
	}
	if !bytes.HasPrefix(d.Content, []byte("%PDF-")) {
		return fail("not a PDF")
	}
	if d.Level == "" {
		d.Level = signer.LevelBLT.String()
	}
	if _, err := signer.ParseLevel(d.Level); err != nil {
		return fail("level %q", d.Level)
	}
	reason, err := checkText("reason", d.Reason, 200, false)
	if err != nil {
		return fail("%v", err)
	}
	loc, err := checkText("location", d.Location, 200, false)
	if err != nil {
		return fail("%v", err)
	}
	h := sha256.New()
	h.Write(d.Content)
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return store.SignDocument{}, err
	}
	return store.SignDocument{Name: name, Size: int64(len(d.Content)), SHA256: h.Sum(nil), SHA256State: state, Level: d.Level,
		Visible: d.Visible, Reason: reason, Location: loc}, nil
}

// Create stores a new sign request. With an idempotency key, the same
// request sent again returns the first one (created false); another
// request under the same key is refused with ErrConflict.
func (s *Service) Create(ctx context.Context, by Principal, n NewRequest) (RequestView, bool, error) {
	fail := func(err error) (RequestView, bool, error) {
		return RequestView{}, false, fmt.Errorf("create sign request: %w", err)
	}
	switch {
	case by.isAgency() && !HasScope(*by.Agency, ScopeSignRequests):
		return fail(fmt.Errorf("%w: scope %s is needed", ErrForbidden, ScopeSignRequests))
	case by.isCitizen():
		if n.NationalID != "" && n.NationalID != by.Citizen.NationalID {
			return fail(fmt.Errorf("%w: a citizen asks only for their own signature", ErrForbidden))
		}
		n.NationalID = by.Citizen.NationalID
	case !by.isAgency():
		return fail(ErrForbidden)
	}
	r, blobs, err := s.newRecord(n)
	if err != nil {
		return fail(err)
	}
	if r.ID, err = s.randomID(18); err != nil {
		return fail(err)
	}
	if by.isAgency() {
		r.Agency = by.Agency.ID
	}
	// The transaction may run more than once: it reads r and writes only
	// out and created.
	created := true
	var out store.SignRequest
	err = s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		created = true
		if n.IdempotencyKey != "" {
			prev, err := tx.Idempotency(by.owner(), n.IdempotencyKey)
			if err == nil {
				old, err := tx.SignRequest(prev)
				if err != nil {
					return err
				}
				if !sameRequest(old, r) {
					return fmt.Errorf("%w: key %q", ErrConflict, n.IdempotencyKey)
				}
				out, created = old, false
				return nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := tx.PutIdempotency(by.owner(), n.IdempotencyKey, r.ID); err != nil {
				return err
			}
		}
		rec := r
		rec.Documents = slices.Clone(r.Documents)
		for i, b := range blobs {
			seq, err := tx.NextBlobSequence()
			if err != nil {
				return err
			}
			rec.Documents[i].Blob = fmt.Sprintf("doc/%016x", seq)
			if err := tx.PutBlob(rec.Documents[i].Blob, b); err != nil {
				return err
			}
		}
		var err error
		out, err = tx.PutSignRequest(rec)
		return err
	})
	if err != nil {
		return fail(err)
	}
	return s.view(out), created, nil
}

// newRecord checks a new request and builds its record (without ID).
func (s *Service) newRecord(n NewRequest) (store.SignRequest, [][]byte, error) {
	nid, err := natid.Normalize(n.NationalID)
	if err != nil {
		return store.SignRequest{}, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if len(n.IdempotencyKey) > 128 {
		return store.SignRequest{}, nil, fmt.Errorf("%w: idempotency key over 128 bytes", ErrInvalid)
	}
	r := store.SignRequest{NationalID: nid, State: store.SignPending, Created: s.now(), IdempotencyKey: n.IdempotencyKey}
	r.Expires = r.Created.Add(s.opts.RequestTTL)
	if r.PurposeAr, err = checkText("purpose_ar", n.PurposeAr, 500, true); err != nil {
		return r, nil, err
	}
	if r.PurposeEn, err = checkText("purpose_en", n.PurposeEn, 500, true); err != nil {
		return r, nil, err
	}
	if len(n.Documents) == 0 || len(n.Documents) > s.opts.MaxDocuments {
		return r, nil, fmt.Errorf("%w: %d documents, want 1 to %d", ErrTooMany, len(n.Documents), s.opts.MaxDocuments)
	}
	blobs := make([][]byte, len(n.Documents))
	for i, d := range n.Documents {
		doc, err := s.checkDocument(i, d)
		if err != nil {
			return r, nil, err
		}
		r.Documents, blobs[i] = append(r.Documents, doc), d.Content
	}
	return r, blobs, nil
}

// sameRequest compares what a client sent twice under one idempotency key.
func sameRequest(a, b store.SignRequest) bool {
	if a.NationalID != b.NationalID || a.PurposeAr != b.PurposeAr || a.PurposeEn != b.PurposeEn || len(a.Documents) != len(b.Documents) {
		return false
	}
	for i := range a.Documents {
		x, y := a.Documents[i], b.Documents[i]
		if x.Name != y.Name || !bytes.Equal(x.SHA256, y.SHA256) || x.Level != y.Level || x.Visible != y.Visible ||
			x.Reason != y.Reason || x.Location != y.Location {
			return false
		}
	}
	return true
}

// load returns a request that by may see.
func (s *Service) load(ctx context.Context, by Principal, id string) (store.SignRequest, error) {
	if len(id) > 64 {
		return store.SignRequest{}, fmt.Errorf("%w: sign request", ErrNotFound)
	}
	var r store.SignRequest
	err := s.st.SigningView(ctx, func(tx store.SigningTx) (err error) {
		r, err = tx.SignRequest(id)
		return err
	})
	if err != nil {
		return r, notFound(err, "sign request "+id)
	}
	return r, by.maySee(r)
}

// Get returns a request that by may see.
func (s *Service) Get(ctx context.Context, by Principal, id string) (RequestView, error) {
	r, err := s.load(ctx, by, id)
	if err != nil {
		return RequestView{}, fmt.Errorf("get sign request: %w", err)
	}
	v := s.view(r)
	err = s.st.SigningView(ctx, func(tx store.SigningTx) error {
		v.AgencyName = agencyNames(tx, map[string]string{})(r.Agency)
		return nil
	})
	if err != nil {
		return RequestView{}, fmt.Errorf("get sign request: %w", err)
	}
	return v, nil
}

// agencyNames returns a lookup of agency names by ID through tx, caching
// them in seen; an unknown or empty ID has no name.
func agencyNames(tx store.SigningTx, seen map[string]string) func(id string) string {
	return func(id string) string {
		if id == "" {
			return ""
		}
		if n, ok := seen[id]; ok {
			return n
		}
		a, err := tx.Agency(id)
		if err != nil {
			a.Name = ""
		}
		seen[id] = a.Name
		return a.Name
	}
}

// List returns the citizen's requests, newest first; with pendingOnly,
// only those waiting for approval.
func (s *Service) List(ctx context.Context, by Principal, pendingOnly bool) ([]RequestView, error) {
	if !by.isCitizen() {
		return nil, fmt.Errorf("list sign requests: %w", ErrForbidden)
	}
	var rs []store.SignRequest
	names := map[string]string{}
	err := s.st.SigningView(ctx, func(tx store.SigningTx) (err error) {
		rs, err = tx.SignRequestsOf(by.Citizen.NationalID)
		name := agencyNames(tx, names)
		for _, r := range rs {
			name(r.Agency)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list sign requests: %w", err)
	}
	out := []RequestView{}
	for i := len(rs) - 1; i >= 0; i-- {
		v := s.view(rs[i])
		v.AgencyName = names[v.Agency]
		if pendingOnly && v.State != store.SignPending {
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

// Document returns a document of a request (the original, or the signed
// one once the request is signed) and its file name.
func (s *Service) Document(ctx context.Context, by Principal, id string, i int, signed bool) ([]byte, string, error) {
	fail := func(err error) ([]byte, string, error) { return nil, "", fmt.Errorf("get document: %w", err) }
	r, err := s.load(ctx, by, id)
	if err != nil {
		return fail(err)
	}
	if i < 0 || i >= len(r.Documents) {
		return fail(fmt.Errorf("%w: document %d", ErrNotFound, i))
	}
	if signed && r.State != store.SignSigned {
		return fail(fmt.Errorf("%w: the request is %s", ErrState, r.State))
	}
	var b []byte
	err = s.st.SigningView(ctx, func(tx store.SigningTx) (err error) {
		if b, err = tx.Blob(r.Documents[i].Blob); err != nil || !signed {
			return err
		}
		// A signed PDF is the original followed by the stored update.
		update, err := tx.Blob(updateKey(id, i))
		b = append(b, update...)
		return err
	})
	if err != nil {
		return fail(notFound(err, "document"))
	}
	name := r.Documents[i].Name
	if signed {
		name = strings.TrimSuffix(name, ".pdf") + "-signed.pdf"
	}
	return b, name, nil
}

// Evidence returns the evidence records of a request's signatures.
func (s *Service) Evidence(ctx context.Context, by Principal, id string) ([]store.SignEvidence, error) {
	if _, err := s.load(ctx, by, id); err != nil {
		return nil, fmt.Errorf("get evidence: %w", err)
	}
	var ev []store.SignEvidence
	err := s.st.SigningView(ctx, func(tx store.SigningTx) (err error) {
		ev, err = tx.EvidenceOf(id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get evidence: %w", err)
	}
	if ev == nil {
		ev = []store.SignEvidence{}
	}
	return ev, nil
}
