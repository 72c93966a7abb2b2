package signing

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/thiqa/thiqa/store"
)

// The signature registry.
//
// Each signed PDF that Thiqa hands out is indexed by the SHA-256 of its
// bytes (a blob of the signing store under signedPrefix), so that a clerk
// holding a document can check, from its hash alone and without sending
// the file, that Thiqa signed it, for whom and when ([Service.SignedByHash]).
// Documents signed before the registry existed are not in it.

// SignedDocument is what the registry says of a signed PDF.
type SignedDocument struct {
	SHA256    string    `json:"sha256"`
	SignerAr  string    `json:"signer_ar"`
	Signer    string    `json:"signer"`
	SignedAt  time.Time `json:"signed_at"`
	Level     string    `json:"level"`
	Document  string    `json:"document"`
	Agency    string    `json:"agency,omitempty"`
	PurposeAr string    `json:"purpose_ar"`
	PurposeEn string    `json:"purpose_en"`
	RequestID string    `json:"request_id"`
	// SignatureID is the identifier in the visible stamp's QR code (""
	// for an invisible signature).
	SignatureID string `json:"signature_id,omitempty"`
}

const (
	signedPrefix    = "signed-sha256/"
	signaturePrefix = "signed-signature/"
)

// registryEntries makes the registry entries of a request's signed
// documents.
func registryEntries(r store.SignRequest, who signerIdentity, signed []signedDoc, at time.Time) []SignedDocument {
	out := make([]SignedDocument, len(r.Documents))
	for i, d := range r.Documents {
		out[i] = SignedDocument{SHA256: hex.EncodeToString(d.SignedSHA256), SignerAr: who.nameAr, SignedAt: at, Level: d.Level,
			Document: d.Name, PurposeAr: r.PurposeAr, PurposeEn: r.PurposeEn, RequestID: r.ID}
		if i < len(signed) {
			out[i].SignatureID = signed[i].sigID
		}
		if who.cert != nil {
			out[i].Signer = who.cert.Subject.CommonName
		}
	}
	return out
}

// putRegistry writes the entries in tx, with the agency's name.
func putRegistry(tx store.SigningTx, agency string, entries []SignedDocument) error {
	name := ""
	if agency != "" {
		if a, err := tx.Agency(agency); err == nil {
			name = a.Name
		}
	}
	for _, e := range entries {
		e.Agency = name
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := tx.PutBlob(signedPrefix+e.SHA256, b); err != nil {
			return err
		}
		if e.SignatureID != "" {
			if err := tx.PutBlob(signaturePrefix+e.SignatureID, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// SignedByHash looks up a PDF signed by Thiqa by the SHA-256 of its bytes.
// Anyone may ask: only who holds the document (or its hash) learns what
// its signature already says.
func (s *Service) SignedByHash(ctx context.Context, sum []byte) (SignedDocument, error) {
	if len(sum) != 32 {
		return SignedDocument{}, fmt.Errorf("signed by hash: %w: a SHA-256 is 32 bytes", ErrInvalid)
	}
	d, err := s.registry(ctx, signedPrefix+hex.EncodeToString(sum))
	if err != nil {
		return d, fmt.Errorf("signed by hash: %w", err)
	}
	return d, nil
}

// SignedBySignature looks up a signature by the identifier that its
// visible stamp's QR code carries.
func (s *Service) SignedBySignature(ctx context.Context, id string) (SignedDocument, error) {
	if id == "" || len(id) > 64 {
		return SignedDocument{}, fmt.Errorf("signed by signature: %w: identifier", ErrInvalid)
	}
	d, err := s.registry(ctx, signaturePrefix+id)
	if err != nil {
		return d, fmt.Errorf("signed by signature: %w", err)
	}
	return d, nil
}

func (s *Service) registry(ctx context.Context, key string) (SignedDocument, error) {
	var b []byte
	err := s.st.SigningView(ctx, func(tx store.SigningTx) (err error) {
		b, err = tx.Blob(key)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return SignedDocument{}, fmt.Errorf("%w: not in the signature registry", ErrNotFound)
	}
	if err != nil {
		return SignedDocument{}, err
	}
	var d SignedDocument
	if err := json.Unmarshal(b, &d); err != nil {
		return SignedDocument{}, fmt.Errorf("corrupt registry entry: %w", err)
	}
	return d, nil
}
