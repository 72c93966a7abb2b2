package signing

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/signer"
	"github.com/thiqa/thiqa/store"
)

// Challenge is an approval begun: the WebAuthn options for the app, the
// short code both screens show, and the digests the challenge commits to.
type Challenge struct {
	CeremonyID string    `json:"ceremony_id"`
	Options    []byte    `json:"options"`
	Code       string    `json:"code"`
	Expires    time.Time `json:"expires"`
	Algorithm  string    `json:"algorithm"`
	Digests    [][]byte  `json:"digests"`
	// Nonce is the ceremony's nonce in the challenge.
	Nonce []byte `json:"nonce"`
}

// prepared is a request's documents prepared for signing.
type prepared struct {
	docs      []*signer.Prepared
	digests   [][]byte
	originals [][]byte
	states    [][]byte // SHA-256 states after each original, if known
}

// signedDoc is a signed document: the incremental update that follows the
// original, and the hash of the whole signed file.
type signedDoc struct {
	update []byte
	size   int64
	sha256 []byte
	// sigID is the signature's identifier in its visible stamp's QR code
	// ("" when invisible).
	sigID string
}

// skipWriter drops the first skip bytes written to it (the original,
// which a signed PDF starts with unchanged).
type skipWriter struct {
	skip int64
	buf  bytes.Buffer
}

func (w *skipWriter) Write(p []byte) (int, error) {
	n := len(p)
	if w.skip > 0 {
		k := min(int64(len(p)), w.skip)
		w.skip -= k
		p = p[k:]
	}
	w.buf.Write(p)
	return n, nil
}

// detRand is the deterministic randomness of one document's preparation
// (the signature identifier of a visible stamp): SHA-256 in counter mode
// over a seed, so that preparing again gives the same bytes.
type detRand struct {
	seed [32]byte
	ctr  uint64
	buf  []byte
}

func (d *detRand) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(d.buf) == 0 {
			h := sha256.New()
			h.Write(d.seed[:])
			h.Write(binary.BigEndian.AppendUint64(nil, d.ctr))
			d.ctr++
			d.buf = h.Sum(nil)
		}
		c := copy(p[n:], d.buf)
		d.buf, n = d.buf[c:], n+c
	}
	return n, nil
}

func seedFor(r store.SignRequest, i int) *detRand {
	h := sha256.New()
	fmt.Fprintf(h, "thiqa-prepare-v1\x00%s\x00%d\x00%d", r.ID, i, r.SigningTime.UnixNano())
	d := &detRand{}
	h.Sum(d.seed[:0])
	return d
}

// signerIdentity is the citizen's certificate and names.
type signerIdentity struct {
	cert   *x509.Certificate
	chain  []*x509.Certificate
	nameAr string
}

func (s *Service) identity(ctx context.Context, by Principal) (signerIdentity, error) {
	me, err := s.ra.Me(ctx, *by.Citizen)
	if err != nil {
		return signerIdentity{}, err
	}
	if me.SigningCert == "" {
		return signerIdentity{}, fmt.Errorf("%w: the identity has no signing certificate", ErrState)
	}
	cert, chain, err := s.trust.SigningCertificate(ctx, me.SigningCert)
	if err != nil {
		return signerIdentity{}, err
	}
	return signerIdentity{cert: cert, chain: chain, nameAr: me.GivenNameAr + " " + me.SurnameAr}, nil
}

// prepare prepares every document of r, read from the store, for id.
func (s *Service) prepare(ctx context.Context, r store.SignRequest, id signerIdentity) (*prepared, error) {
	p := &prepared{}
	for i, d := range r.Documents {
		var b []byte
		err := s.st.SigningView(ctx, func(tx store.SigningTx) (err error) {
			b, err = tx.Blob(d.Blob)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		level, err := signer.ParseLevel(d.Level)
		if err != nil {
			return nil, fmt.Errorf("%w: document %d: %w", ErrDocument, i, err)
		}
		o := &signer.Options{Certificate: id.cert, Chain: id.chain, Level: level, Time: r.SigningTime,
			Reason: d.Reason, Location: d.Location, Timestamper: s.trust, Revocation: s.trust,
			ExtraCertificates: s.trust.ExtraCertificates(), Rand: seedFor(r, i)}
		if d.Visible {
			o.Visible = &signer.Visible{Page: 1, Rect: [4]float64{36, 36, 276, 126}}
			o.Appearance = signer.BilingualStamp(signer.StampOptions{NameArabic: id.nameAr, NameLatin: id.cert.Subject.CommonName,
				Reason: d.Reason, VerifyBaseURL: s.opts.VerifyBaseURL})
		}
		pd, digest, err := signer.Prepare(ctx, bytes.NewReader(b), int64(len(b)), o)
		if err != nil {
			return nil, fmt.Errorf("%w: document %d (%s): %w", ErrDocument, i, d.Name, err)
		}
		p.docs, p.digests, p.originals = append(p.docs, pd), append(p.digests, digest), append(p.originals, b)
		p.states = append(p.states, d.SHA256State)
	}
	return p, nil
}

// pending loads a request that the citizen by may act on now.
func (s *Service) pending(ctx context.Context, by Principal, id string) (store.SignRequest, error) {
	if !by.isCitizen() {
		return store.SignRequest{}, ErrForbidden
	}
	r, err := s.load(ctx, by, id)
	if err != nil {
		return r, err
	}
	if s.expired(r) {
		s.setState(ctx, r, store.SignExpired, "expired before approval")
		return r, fmt.Errorf("%w: request expired at %s", ErrExpired, r.Expires.Format(time.RFC3339))
	}
	if r.State != store.SignPending {
		return r, fmt.Errorf("%w: the request is %s", ErrState, r.State)
	}
	return r, nil
}

// setState records a final state, and the webhook announcing it, (best
// effort: the request may have moved on concurrently, and then that state
// stands).
func (s *Service) setState(ctx context.Context, r store.SignRequest, state, reason string) store.SignRequest {
	out, queued := r, false
	err := s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		queued = false
		cur, err := tx.SignRequest(r.ID)
		if err != nil || cur.Version != r.Version {
			return err
		}
		cur.State, cur.Reason, cur.Ceremony, cur.Completed = state, reason, "", s.now()
		cur.SigningSince = time.Time{}
		if out, err = tx.PutSignRequest(cur); err != nil {
			return err
		}
		queued, err = s.enqueueWebhook(tx, out)
		return err
	})
	if err != nil {
		return r
	}
	if queued {
		s.kick()
	}
	return out
}

// BeginApproval prepares every document of the request and begins the
// citizen's passkey approval of exactly their digests.
func (s *Service) BeginApproval(ctx context.Context, by Principal, id string) (Challenge, error) {
	fail := func(err error) (Challenge, error) { return Challenge{}, fmt.Errorf("begin approval: %w", err) }
	if err := s.acquire(ctx); err != nil {
		return fail(err)
	}
	defer s.release()
	r, err := s.pending(ctx, by, id)
	if err != nil {
		return fail(err)
	}
	who, err := s.identity(ctx, by)
	if err != nil {
		return fail(err)
	}
	now := s.now()
	r.SigningTime = now.Truncate(time.Second)
	p, err := s.prepare(ctx, r, who)
	if err != nil {
		if errors.Is(err, ErrDocument) {
			s.setState(ctx, r, store.SignFailed, err.Error())
		}
		return fail(err)
	}
	sc := enrollment.ApprovalScope{RequestID: r.ID, Algorithm: enrollment.AlgECDSASHA256, Digests: p.digests,
		Expires: now.Add(s.opts.ApprovalTTL).Truncate(time.Second)}
	begun, err := s.ra.BeginApproval(ctx, *by.Citizen, sc)
	if err != nil {
		return fail(err)
	}
	r.Ceremony, r.ApprovalExpires = begun.CeremonyID, sc.Expires
	for i := range r.Documents {
		r.Documents[i].DTBS = p.digests[i]
	}
	err = s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		_, err := tx.PutSignRequest(r)
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		return fail(fmt.Errorf("%w: the request changed meanwhile", ErrState))
	}
	if err != nil {
		return fail(err)
	}
	return Challenge{CeremonyID: begun.CeremonyID, Options: begun.Options, Code: begun.Code, Expires: begun.Expires,
		Algorithm: sc.Algorithm, Digests: p.digests, Nonce: begun.Nonce}, nil
}

// Approve finishes the citizen's approval: it prepares the documents
// again from the store, has the registration authority verify the
// assertion against the digests as they are now, and only then signs,
// time-stamps, adds validation data and stores the signed PDFs with an
// evidence record each. One approval signs the whole request.
func (s *Service) Approve(ctx context.Context, by Principal, id, ceremonyID string, assertion []byte) (RequestView, error) {
	fail := func(err error) (RequestView, error) { return RequestView{}, fmt.Errorf("approve: %w", err) }
	if err := s.acquire(ctx); err != nil {
		return fail(err)
	}
	defer s.release()
	r, err := s.pending(ctx, by, id)
	if err != nil {
		return fail(err)
	}
	if r.Ceremony == "" || r.Ceremony != ceremonyID {
		return fail(fmt.Errorf("%w: no approval of this request under way with that ceremony", ErrState))
	}
	if !s.now().Before(r.ApprovalExpires) {
		return fail(fmt.Errorf("%w: the approval expired; begin again", ErrExpired))
	}
	who, err := s.identity(ctx, by)
	if err != nil {
		return fail(err)
	}
	p, err := s.prepare(ctx, r, who)
	if err != nil {
		return fail(err)
	}
	sc := enrollment.ApprovalScope{RequestID: r.ID, Algorithm: enrollment.AlgECDSASHA256, Digests: p.digests, Expires: r.ApprovalExpires}
	approval, err := s.ra.FinishApproval(ctx, *by.Citizen, ceremonyID, sc, assertion)
	if err != nil {
		return fail(err)
	}
	// Claim the request so that it is signed once. (The transaction may
	// run more than once: it reads r and writes only claimed.)
	var claimed store.SignRequest
	err = s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		cur := r
		cur.State, cur.Ceremony, cur.SigningSince = store.SignSigning, "", s.now()
		var err error
		claimed, err = tx.PutSignRequest(cur)
		return err
	})
	if err != nil {
		return fail(fmt.Errorf("%w: the request changed meanwhile", ErrState))
	}
	r = claimed
	signed, err := s.sign(ctx, p, approval)
	if err != nil {
		s.setState(ctx, r, store.SignFailed, err.Error())
		return fail(fmt.Errorf("%w: %w", ErrSigning, err))
	}
	r, err = s.store(ctx, by, who, r, signed, approval.Evidence(assertion))
	if errors.Is(err, store.ErrConflict) {
		// Recover took the request for interrupted and put it back: what
		// was signed here is dropped, so that the request is signed once.
		return fail(fmt.Errorf("%w: signing took too long and was abandoned; approve again", ErrState))
	}
	if err != nil {
		s.setState(ctx, r, store.SignFailed, "storing the signed documents failed")
		return fail(err)
	}
	return s.view(r), nil
}

// sign has the citizen's key sign the approved digests and completes the
// prepared documents.
func (s *Service) sign(ctx context.Context, p *prepared, a *enrollment.Approval) ([]signedDoc, error) {
	sigs, err := s.ra.SignApproved(ctx, a)
	if err != nil {
		return nil, err
	}
	out := make([]signedDoc, len(p.docs))
	for i, d := range p.docs {
		if err := d.Complete(ctx, sigs[i]); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		w := &skipWriter{skip: int64(len(p.originals[i]))}
		if _, err := d.WriteTo(w); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		h := sha256.New()
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(p.states[i]); err != nil {
			h.Reset()
			h.Write(p.originals[i])
		}
		h.Write(w.buf.Bytes())
		out[i] = signedDoc{update: w.buf.Bytes(), size: d.Len(), sha256: h.Sum(nil), sigID: d.SignatureID()}
	}
	return out, nil
}

// store saves the signed documents, their evidence and the signed state.
// Only the incremental update of each signed document is stored: the
// signed PDF is the original followed by it.
func (s *Service) store(ctx context.Context, by Principal, who signerIdentity, r store.SignRequest, signed []signedDoc, ev enrollment.ApprovalEvidence) (store.SignRequest, error) {
	now := s.now()
	evidence := make([]store.SignEvidence, len(signed))
	for i, sd := range signed {
		h := sd.sha256
		r.Documents[i].SignedSize, r.Documents[i].SignedSHA256 = sd.size, h
		eid, err := s.randomID(12)
		if err != nil {
			return r, err
		}
		evidence[i] = store.SignEvidence{ID: eid, RequestID: r.ID, Document: i, NationalID: r.NationalID, Agency: r.Agency,
			DTBS: r.Documents[i].DTBS, DocumentHash: r.Documents[i].SHA256, SignedHash: h, Credential: ev.Credential,
			Challenge: ev.Challenge, Assertion: ev.Assertion, SignCount: ev.SignCount, Level: r.Documents[i].Level, At: now, IP: by.IP}
	}
	r.State, r.Completed, r.Reason, r.SigningSince = store.SignSigned, now, "", time.Time{}
	registry := registryEntries(r, who, signed, now)
	var saved store.SignRequest
	queued := false
	err := s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		for i, sd := range signed {
			if err := tx.PutBlob(updateKey(r.ID, i), sd.update); err != nil {
				return err
			}
			if err := tx.PutEvidence(evidence[i]); err != nil {
				return err
			}
		}
		if err := putRegistry(tx, r.Agency, registry); err != nil {
			return err
		}
		var err error
		if saved, err = tx.PutSignRequest(r); err != nil {
			return err
		}
		queued, err = s.enqueueWebhook(tx, saved)
		return err
	})
	if err != nil {
		return r, err
	}
	if queued {
		s.kick()
	}
	if err := s.audit(ctx, by, evidence); err != nil {
		return r, err
	}
	return saved, nil
}

// audit appends one record per signature to the audit log before the
// signatures are reported done. The leaf names the citizen by identity ID;
// the evidence (national number, hashes, assertion) goes in the details.
func (s *Service) audit(ctx context.Context, by Principal, evidence []store.SignEvidence) error {
	if s.opts.Audit == nil {
		return nil
	}
	actor := "citizen:unknown"
	if by.Citizen != nil && by.Citizen.IdentityID != "" {
		actor = "citizen:" + by.Citizen.IdentityID
	}
	for _, e := range evidence {
		if _, err := s.opts.Audit.Append(ctx, signatureEvent(actor, e)); err != nil {
			return fmt.Errorf("audit signature %s: %w", e.ID, err)
		}
	}
	return nil
}

// Reject records the citizen's refusal of a request.
func (s *Service) Reject(ctx context.Context, by Principal, id, why string) (RequestView, error) {
	r, err := s.pending(ctx, by, id)
	if err != nil {
		return RequestView{}, fmt.Errorf("reject: %w", err)
	}
	why, err = checkText("reason", why, 500, false)
	if err != nil {
		return RequestView{}, fmt.Errorf("reject: %w", err)
	}
	var saved store.SignRequest
	queued := false
	err = s.st.SigningUpdate(ctx, func(tx store.SigningTx) error {
		cur := r
		cur.State, cur.Reason, cur.Ceremony, cur.Completed = store.SignRejected, why, "", s.now()
		var err error
		if saved, err = tx.PutSignRequest(cur); err != nil {
			return err
		}
		queued, err = s.enqueueWebhook(tx, saved)
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		err = fmt.Errorf("%w: the request changed meanwhile", ErrState)
	}
	if err != nil {
		return RequestView{}, fmt.Errorf("reject: %w", err)
	}
	if queued {
		s.kick()
	}
	return s.view(saved), nil
}
