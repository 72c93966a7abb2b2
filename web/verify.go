package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/signer/validate"
	"github.com/thiqa/thiqa/signing"
	"github.com/thiqa/thiqa/web/internal/ui"
)

func (s *Server) verifyRoutes() {
	s.handle("GET /verify/", s.verifyForm)
	s.handle("POST /verify/", s.verify)
}

// sigIDPattern is a signature identifier from a stamp's QR code (16
// random bytes in base64url, see signer.Prepared.SignatureID).
var sigIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)

// verifyView is the verification page's data.
type verifyView struct {
	// Stamp is the signature identifier of the stamp whose QR code opened
	// the page, if any.
	Stamp  string
	Report *validate.Report
	// Signatures are the report's signatures in words.
	Signatures []sigView
	// Changes are the modifications after signing, in words.
	Changes []changeView
	// Disallowed counts the changes not allowed after signing.
	Disallowed int
	JSON       string
	// Registry says whether a hash asked with ?sha256= is in the
	// signature registry: Hash is the hash asked, Found the entry.
	Registry bool
	Hash     string
	Found    *signing.SignedDocument
}

type sigView struct {
	validate.Signature
	Explanation string
	SignerName  string
}

type changeView struct {
	Text    string
	Allowed bool
}

func (s *Server) verifyForm(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	if r.URL.Path != "/verify/" {
		s.fail(w, r, by, http.StatusNotFound, "err.no-page", "")
		return
	}
	p := s.page(w, r, by, "verify.title")
	v := verifyView{Registry: s.deps.Registry != nil}
	q := r.URL.Query()
	if id := q.Get("sig"); sigIDPattern.MatchString(id) {
		v.Stamp = id
	}
	status := http.StatusOK
	var find func() (signing.SignedDocument, error)
	switch sum, err := hex.DecodeString(strings.ToLower(ui.Digits(q.Get("sha256")))); {
	case !v.Registry:
	case q.Get("sha256") != "" && (err != nil || len(sum) != sha256.Size):
		status, p.Error = http.StatusBadRequest, ui.T(p.Lang, "verify.hash-bad")
	case q.Get("sha256") != "":
		v.Hash = hex.EncodeToString(sum)
		find = func() (signing.SignedDocument, error) { return s.deps.Registry.SignedByHash(r.Context(), sum) }
	case v.Stamp != "":
		find = func() (signing.SignedDocument, error) { return s.deps.Registry.SignedBySignature(r.Context(), v.Stamp) }
	}
	if find != nil {
		d, err := find()
		if err != nil && !errors.Is(err, signing.ErrNotFound) {
			s.failErr(w, r, by, err)
			return
		}
		if err == nil {
			v.Found = &d
		}
	}
	p.Data = v
	s.pages.Render(w, status, "verify.html", p)
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request, by enrollment.Principal) {
	p := s.page(w, r, by, "verify.title")
	pdf, err := readUpload(r)
	if err != nil {
		status, key := http.StatusBadRequest, "err.upload"
		if st, k := errorKey(err); st == http.StatusRequestEntityTooLarge {
			status, key = st, k
		}
		p.Error = ui.T(p.Lang, key)
		p.Data = verifyView{Registry: s.deps.Registry != nil}
		s.pages.Render(w, status, "verify.html", p)
		return
	}
	rep, err := s.deps.Verifier.Validate(r.Context(), bytes.NewReader(pdf), int64(len(pdf)))
	if err != nil {
		s.failErr(w, r, by, fmt.Errorf("verify: %w", err))
		return
	}
	v := reportView(p.Lang, rep)
	v.Registry = s.deps.Registry != nil
	p.Data = v
	s.pages.Render(w, http.StatusOK, "verify.html", p)
}

// reportView puts a report in words of lang.
func reportView(lang string, rep *validate.Report) verifyView {
	v := verifyView{Report: rep}
	js, _ := json.MarshalIndent(rep, "", "  ")
	v.JSON = string(js)
	for _, sg := range rep.Signatures {
		sv := sigView{Signature: sg, Explanation: text(lang, sg.Explanation)}
		if sg.Signer != nil {
			sv.SignerName = commonName(sg.Signer.Subject)
		}
		v.Signatures = append(v.Signatures, sv)
	}
	for _, m := range rep.Modifications {
		v.Changes = append(v.Changes, changeView{Text: modText(lang, m), Allowed: m.Allowed})
		if !m.Allowed {
			v.Disallowed++
		}
	}
	return v
}

// commonName returns the CN of a subject written as "A=b,CN=c,…", or
// the whole subject when it has none.
func commonName(subject string) string {
	for _, part := range strings.Split(subject, ",") {
		if cn, ok := strings.CutPrefix(part, "CN="); ok && cn != "" {
			return cn
		}
	}
	return subject
}

// text picks the language of a report message.
func text(lang string, t validate.Text) string {
	if lang == ui.English || t.AR == "" {
		return t.EN
	}
	return t.AR
}

// modText says a modification in words: what changed, on which page or
// field, and whether it is allowed after signing.
func modText(lang string, m validate.Modification) string {
	key := "mod." + m.Kind
	what := ui.T(lang, key)
	if !ui.Has(key) {
		what = m.Kind
	}
	var b strings.Builder
	b.WriteString(what)
	if m.Page > 0 {
		fmt.Fprintf(&b, " — %s %s", ui.T(lang, "verify.page"), num(lang, m.Page))
	}
	if m.Field != "" {
		fmt.Fprintf(&b, " — %s «%s»", ui.T(lang, "verify.field"), m.Field)
	}
	fmt.Fprintf(&b, " (%s %s)", ui.T(lang, "verify.revision"), num(lang, m.Revision))
	return b.String()
}

func num(lang string, n int) string {
	s := fmt.Sprint(n)
	if lang == ui.Arabic {
		return ui.ArabicDigits(s)
	}
	return s
}

// errUpload: the upload is not a multipart form with a "file" part
// holding some bytes.
var errUpload = errors.New("upload a PDF in the \"file\" field of a multipart form")

// readUpload returns the PDF of the verification form: the "file" part of
// a multipart form (at most 16 parts are looked at), or a raw
// application/pdf body. The body is already bounded by MaxBytesReader.
func readUpload(r *http.Request) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var src io.Reader
	switch mt {
	case "application/pdf":
		src = r.Body
	case "multipart/form-data":
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errUpload, err)
		}
		for i := 0; src == nil; i++ {
			part, err := mr.NextPart()
			if err != nil || i >= 16 {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return nil, err
				}
				return nil, errUpload
			}
			if part.FormName() == "file" {
				src = part
			}
		}
	default:
		return nil, errUpload
	}
	b, err := io.ReadAll(src)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: %w", errUpload, err)
	case len(b) == 0:
		return nil, errUpload
	}
	return b, nil
}
