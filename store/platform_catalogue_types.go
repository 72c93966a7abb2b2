package store

import "time"

// Service delivery channels of a catalogue entry.
const (
	ChannelOnline = "online"
	ChannelCentre = "centre"
)

// CatalogueService is one government service of the catalogue (package
// platform/catalogue), keyed by its code. Fees are integer fils (1 JOD =
// 1000 fils), never floating point.
type CatalogueService struct {
	Code          string `json:"code"`
	Agency        string `json:"agency"`
	NameAr        string `json:"name_ar"`
	NameEn        string `json:"name_en"`
	DescriptionAr string `json:"description_ar,omitempty"`
	DescriptionEn string `json:"description_en,omitempty"`
	FeeFils       int64  `json:"fee_fils"`
	// Channel is ChannelOnline or ChannelCentre.
	Channel string `json:"channel"`
	// Documents are the documents a request must carry.
	Documents         []string `json:"documents,omitempty"`
	SignatureRequired bool     `json:"signature_required"`
	// Sealed: the result is sealed with the agency's e-seal.
	Sealed bool `json:"sealed"`
	// Updated is when the record last changed, Version counts changes.
	Updated time.Time `json:"updated"`
	Version int64     `json:"version"`
}

// CatalogueChanges counts what PutCatalogueServices did.
type CatalogueChanges struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}
